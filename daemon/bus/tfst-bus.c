/* SPDX-License-Identifier: GPL-2.0-or-later */
/* System bus connection and name ownership (see tfst-bus.h). */
#include "tfst-bus.h"
#include "tfst-bus-name.h"

#define TFST_BUS_RETRY_MIN_S 1
#define TFST_BUS_RETRY_MAX_S 10

struct TfstBus {
  char *name;
  TfstLog *log;
  TfstAuthz *authz;
  GPtrArray *skeletons;
  GPtrArray *paths; /* the object path of each skeleton */
  GDBusConnection *connection;
  gulong closed_id;
  guint owner_id;
  guint retry_id;
  guint retry_s;
  gboolean owned;
  gboolean trouble_logged; /* a failure is logged once until it is over */
  GCancellable *cancellable;
  GSourceFunc settled;
  gpointer settled_data;
};

static void bus_connect(TfstBus *bus);

static void
bus_settle(TfstBus *bus)
{
  GSourceFunc settled = g_steal_pointer(&bus->settled);

  if (settled != NULL)
    settled(bus->settled_data);
}

static gboolean
retry_cb(gpointer data)
{
  TfstBus *bus = data;

  bus->retry_id = 0;
  bus_connect(bus);
  return G_SOURCE_REMOVE;
}

static void
bus_schedule_retry(TfstBus *bus)
{
  if (bus->retry_id != 0)
    return;
  bus->retry_id = g_timeout_add_seconds(bus->retry_s, retry_cb, bus);
  bus->retry_s = MIN(bus->retry_s * 2, TFST_BUS_RETRY_MAX_S);
}

static void bus_trouble(TfstBus *bus, int priority, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void
bus_trouble(TfstBus *bus, int priority, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  if (bus->trouble_logged)
    return;
  bus->trouble_logged = TRUE;
  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  tfst_log(bus->log, priority, "%s", msg);
}

/* Drops everything tied to the connection; the skeletons stay for the
 * next one. */
static void
bus_disconnect(TfstBus *bus)
{
  if (bus->owner_id != 0)
    g_bus_unown_name(bus->owner_id);
  bus->owner_id = 0;
  bus->owned = FALSE;
  for (guint i = 0; i < bus->skeletons->len; i++) {
    GDBusInterfaceSkeleton *skel = g_ptr_array_index(bus->skeletons, i);
    if (bus->connection != NULL && g_dbus_interface_skeleton_has_connection(skel, bus->connection))
      g_dbus_interface_skeleton_unexport_from_connection(skel, bus->connection);
  }
  if (bus->connection != NULL) {
    g_signal_handler_disconnect(bus->connection, bus->closed_id);
    g_clear_object(&bus->connection);
  }
  bus->closed_id = 0;
  tfst_authz_reset(bus->authz);
}

static void
closed_cb(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error, gpointer data)
{
  TfstBus *bus = data;

  bus->trouble_logged = FALSE;
  bus_trouble(bus, LOG_WARNING,
              "lost the system bus connection (%s); forwarding continues, registering %s again "
              "when the bus is back",
              error != NULL ? error->message : "closed", bus->name);
  bus_disconnect(bus);
  bus->retry_s = TFST_BUS_RETRY_MIN_S;
  bus_schedule_retry(bus);
}

static void
name_acquired_cb(GDBusConnection *connection, const char *name, gpointer data)
{
  TfstBus *bus = data;

  bus->owned = TRUE;
  bus->trouble_logged = FALSE;
  bus->retry_s = TFST_BUS_RETRY_MIN_S;
  tfst_log(bus->log, LOG_NOTICE, "owning %s on the system bus", name);
  bus_settle(bus);
}

static void
name_lost_cb(GDBusConnection *connection, const char *name, gpointer data)
{
  TfstBus *bus = data;

  /* A closed connection is handled by closed_cb(). */
  if (connection == NULL || g_dbus_connection_is_closed(connection))
    return;
  bus_trouble(bus, LOG_ERR,
              "cannot own %s on the system bus: another process owns it, or the bus policy "
              "(org.tfst.Tfst1.conf) does not allow this user; retrying",
              name);
  bus->owned = FALSE;
  bus_settle(bus);
  bus_disconnect(bus);
  bus_schedule_retry(bus);
}

static gboolean
bus_export(TfstBus *bus, GError **error)
{
  for (guint i = 0; i < bus->skeletons->len; i++)
    if (!g_dbus_interface_skeleton_export(g_ptr_array_index(bus->skeletons, i), bus->connection,
                                          g_ptr_array_index(bus->paths, i), error))
      return FALSE;
  return TRUE;
}

/* Exports the skeletons on `connection` (taken), then asks for the name. */
static void
bus_register(TfstBus *bus, GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;

  /* Shared with polkit's client: losing the bus must not stop the
   * instance, which is GLib's default for the shared connection. */
  g_dbus_connection_set_exit_on_close(connection, FALSE);
  bus->connection = connection;
  bus->closed_id = g_signal_connect(connection, "closed", G_CALLBACK(closed_cb), bus);
  if (!bus_export(bus, &error)) {
    bus_trouble(bus, LOG_ERR, "cannot export the objects on the system bus: %s", error->message);
    bus_settle(bus);
    bus_disconnect(bus);
    bus_schedule_retry(bus);
    return;
  }
  bus->owner_id =
      g_bus_own_name_on_connection(connection, bus->name, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                   name_acquired_cb, name_lost_cb, bus, NULL);
}

static void
bus_got_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection = g_bus_get_finish(res, &error);
  TfstBus *bus;

  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  bus = data;
  if (connection != NULL && g_dbus_connection_is_closed(connection)) {
    /* GLib hands out the old shared connection while something still
     * holds it; wait until it is gone. */
    g_clear_object(&connection);
    g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_CLOSED, "previous connection still held");
  }
  if (connection == NULL) {
    bus_trouble(bus, LOG_WARNING,
                "system bus not available (%s); forwarding continues, retrying to register %s",
                error->message, bus->name);
    bus_settle(bus);
    bus_schedule_retry(bus);
    return;
  }
  bus_register(bus, connection);
}

static void
bus_connect(TfstBus *bus)
{
  g_bus_get(G_BUS_TYPE_SYSTEM, bus->cancellable, bus_got_cb, bus);
}

TfstBus *
tfst_bus_new(const char *bus_name, TfstLog *log, TfstAuthz *authz)
{
  TfstBus *bus = g_new0(TfstBus, 1);

  bus->name = g_strdup(bus_name);
  bus->log = log;
  bus->authz = authz;
  bus->skeletons = g_ptr_array_new_with_free_func(g_object_unref);
  bus->paths = g_ptr_array_new_with_free_func(g_free);
  bus->cancellable = g_cancellable_new();
  bus->retry_s = TFST_BUS_RETRY_MIN_S;
  return bus;
}

void
tfst_bus_add_interface_at(TfstBus *bus, GDBusInterfaceSkeleton *skeleton, const char *object_path)
{
  g_ptr_array_add(bus->skeletons, g_object_ref(skeleton));
  g_ptr_array_add(bus->paths, g_strdup(object_path));
}

void
tfst_bus_add_interface(TfstBus *bus, GDBusInterfaceSkeleton *skeleton)
{
  tfst_bus_add_interface_at(bus, skeleton, TFST_BUS_OBJECT_PATH);
}

void
tfst_bus_start(TfstBus *bus, GSourceFunc settled, gpointer user_data)
{
  bus->settled = settled;
  bus->settled_data = user_data;
  bus_connect(bus);
}

void
tfst_bus_free(TfstBus *bus)
{
  g_cancellable_cancel(bus->cancellable);
  g_clear_object(&bus->cancellable);
  if (bus->retry_id != 0)
    g_source_remove(bus->retry_id);
  bus_disconnect(bus);
  g_ptr_array_unref(bus->skeletons);
  g_ptr_array_unref(bus->paths);
  g_free(bus->name);
  g_free(bus);
}
