/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.freedesktop.LogControl1 (see tfst-logcontrol-interface.h).
 *
 * A hand-written skeleton rather than gdbus-codegen: codegen's property
 * setters run synchronously, and a write must wait for polkit.  The vtable
 * leaves get_property and set_property NULL, so GDBus validates the
 * property name, its access and the value's type, and then routes
 * org.freedesktop.DBus.Properties calls to method_call, where a Set can be
 * answered once polkit has. */
#include "tfst-logcontrol-interface.h"
#include "tfst-error.h"

#define LOGCONTROL_INTERFACE  "org.freedesktop.LogControl1"
#define PROPERTIES_INTERFACE  "org.freedesktop.DBus.Properties"
#define PROPERTY_LOG_LEVEL    "LogLevel"
#define PROPERTY_LOG_TARGET   "LogTarget"
#define PROPERTY_SYSLOG_IDENT "SyslogIdentifier"

/* As systemd declares it (its man page org.freedesktop.LogControl1(5)). */
static const char introspection_xml[] =
    "<node>"
    "  <interface name='" LOGCONTROL_INTERFACE "'>"
    "    <property name='" PROPERTY_LOG_LEVEL "' type='s' access='readwrite'/>"
    "    <property name='" PROPERTY_LOG_TARGET "' type='s' access='readwrite'/>"
    "    <property name='" PROPERTY_SYSLOG_IDENT "' type='s' access='read'/>"
    "  </interface>"
    "</node>";

struct _TfstLogcontrolInterface {
  GDBusInterfaceSkeleton parent;
  GDBusNodeInfo *node; /* introspection_xml, parsed */
  TfstAuthz *authz;
  TfstLog *log;
  TfstLogcontrolChangedFunc changed;
  gpointer changed_data;
};

G_DEFINE_FINAL_TYPE(TfstLogcontrolInterface, tfst_logcontrol_interface,
                    G_TYPE_DBUS_INTERFACE_SKELETON)

static GDBusInterfaceInfo *
interface_info(TfstLogcontrolInterface *self)
{
  return self->node->interfaces[0];
}

static GVariant *
property_value(TfstLogcontrolInterface *self, const char *name)
{
  if (g_str_equal(name, PROPERTY_LOG_LEVEL))
    return g_variant_new_string(tfst_log_priority_to_string(tfst_log_get_max_priority(self->log)));
  if (g_str_equal(name, PROPERTY_LOG_TARGET))
    return g_variant_new_string(tfst_log_target_to_string(tfst_log_get_target(self->log)));
  return g_variant_new_string(TFST_LOG_SYSLOG_IDENTIFIER);
}

static GVariant *
all_properties(TfstLogcontrolInterface *self)
{
  GVariantBuilder b;
  GDBusInterfaceInfo *info = interface_info(self);

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; info->properties[i] != NULL; i++)
    g_variant_builder_add(&b, "{sv}", info->properties[i]->name,
                          property_value(self, info->properties[i]->name));
  return g_variant_builder_end(&b);
}

static void
emit_changed(TfstLogcontrolInterface *self, const char *name)
{
  GDBusInterfaceSkeleton *skel = G_DBUS_INTERFACE_SKELETON(self);
  g_autolist(GDBusConnection) connections = g_dbus_interface_skeleton_get_connections(skel);
  GVariantBuilder b;
  g_autoptr(GVariant) args = NULL;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", name, property_value(self, name));
  args = g_variant_ref_sink(g_variant_new("(sa{sv}as)", LOGCONTROL_INTERFACE, &b, NULL));
  for (GList *l = connections; l != NULL; l = l->next)
    (void)g_dbus_connection_emit_signal(l->data, NULL,
                                        g_dbus_interface_skeleton_get_object_path(skel),
                                        PROPERTIES_INTERFACE, "PropertiesChanged", args, NULL);
}

/* The lines recording a change pass whatever the level, and reach the
 * journal even when the change switches logging off: SIGUSR2 logs at
 * LOG_ERR for the same reason.  Otherwise a caller could silence the
 * daemon without leaving a trace. */
static gboolean
apply_level(TfstLogcontrolInterface *self, const char *value, GError **error)
{
  int priority = tfst_log_priority_from_string(value);

  if (priority < 0) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "invalid log level '%s': emerg, alert, crit, err, warning, notice, info or debug",
                value);
    return FALSE;
  }
  tfst_log_set_max_priority(self->log, priority);
  tfst_log_change(self->log, tfst_log_get_target(self->log), "log level now %s (%u) (LogControl1)",
                  value, tfst_log_get_level(self->log));
  return TRUE;
}

static gboolean
apply_target(TfstLogcontrolInterface *self, const char *value, GError **error)
{
  TfstLogTarget before = tfst_log_get_target(self->log);
  TfstLogTarget target;

  if (!tfst_log_target_from_string(value, &target)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "invalid log target '%s': auto, journal, console or null", value);
    return FALSE;
  }
  /* Where it was going: whoever reads the logs reads them there. */
  tfst_log_change(self->log, before != TFST_LOG_TARGET_NULL ? before : target,
                  "log target now %s (LogControl1)", value);
  tfst_log_set_target(self->log, target);
  return TRUE;
}

/* The value was checked for its type by GDBus; here for its meaning.
 * Written only when valid. */
static gboolean
apply(TfstLogcontrolInterface *self, const char *name, const char *value, GError **error)
{
  if (g_str_equal(name, PROPERTY_LOG_LEVEL))
    return apply_level(self, value, error);
  return apply_target(self, value, error);
}

/* Runs once polkit said yes: Set(s interface, s name, v value). */
static void
set_authorized_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstLogcontrolInterface *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  const char *name;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&sv)", NULL, &name,
                &value);
  if (!apply(self, name, g_variant_get_string(value, NULL), &error)) {
    g_dbus_method_invocation_return_gerror(invocation, error);
    return;
  }
  g_dbus_method_invocation_return_value(invocation, NULL);
  emit_changed(self, name);
  if (self->changed != NULL)
    self->changed(self->changed_data);
}

static void
method_call_cb(GDBusConnection *connection, const char *sender, const char *object_path,
               const char *interface_name, const char *method_name, GVariant *parameters,
               GDBusMethodInvocation *invocation, gpointer data)
{
  TfstLogcontrolInterface *self = data;
  const char *name = NULL;

  /* Only Properties calls arrive: the interface has no methods. */
  if (g_str_equal(method_name, "Get")) {
    g_variant_get(parameters, "(&s&s)", NULL, &name);
    g_dbus_method_invocation_return_value(invocation,
                                          g_variant_new("(v)", property_value(self, name)));
  } else if (g_str_equal(method_name, "GetAll")) {
    g_dbus_method_invocation_return_value(invocation,
                                          g_variant_new("(@a{sv})", all_properties(self)));
  } else if (g_str_equal(method_name, "Set")) {
    /* The invocation's reference passes on to whoever answers it. */
    tfst_authz_check(self->authz, invocation, TFST_ACTION_MANAGE, set_authorized_cb,
                     g_object_ref(self), g_object_unref);
  } else {
    g_dbus_method_invocation_return_error(invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                          "unknown method %s", method_name);
  }
}

static const GDBusInterfaceVTable vtable = {.method_call = method_call_cb};

static GDBusInterfaceInfo *
get_info(GDBusInterfaceSkeleton *skel)
{
  return interface_info(TFST_LOGCONTROL_INTERFACE(skel));
}

static GDBusInterfaceVTable *
get_vtable(GDBusInterfaceSkeleton *skel)
{
  return (GDBusInterfaceVTable *)&vtable;
}

static GVariant *
get_properties(GDBusInterfaceSkeleton *skel)
{
  return all_properties(TFST_LOGCONTROL_INTERFACE(skel));
}

static void
flush(GDBusInterfaceSkeleton *skel)
{
  /* Every change is emitted when it is made. */
}

static void
finalize(GObject *object)
{
  TfstLogcontrolInterface *self = TFST_LOGCONTROL_INTERFACE(object);

  g_clear_pointer(&self->node, g_dbus_node_info_unref);
  G_OBJECT_CLASS(tfst_logcontrol_interface_parent_class)->finalize(object);
}

static void
tfst_logcontrol_interface_class_init(TfstLogcontrolInterfaceClass *klass)
{
  GDBusInterfaceSkeletonClass *skel_class = G_DBUS_INTERFACE_SKELETON_CLASS(klass);

  G_OBJECT_CLASS(klass)->finalize = finalize;
  skel_class->get_info = get_info;
  skel_class->get_vtable = get_vtable;
  skel_class->get_properties = get_properties;
  skel_class->flush = flush;
}

static void
tfst_logcontrol_interface_init(TfstLogcontrolInterface *self)
{
  /* A constant text: parsing cannot fail. */
  self->node = g_dbus_node_info_new_for_xml(introspection_xml, NULL);
}

TfstLogcontrolInterface *
tfst_logcontrol_interface_new(TfstAuthz *authz, TfstLog *log, TfstLogcontrolChangedFunc changed,
                              gpointer changed_data)
{
  TfstLogcontrolInterface *self = g_object_new(TFST_TYPE_LOGCONTROL_INTERFACE, NULL);

  self->authz = authz;
  self->log = log;
  self->changed = changed;
  self->changed_data = changed_data;
  return self;
}
