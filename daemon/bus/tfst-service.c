/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every interface the instance serves (see tfst-service.h). */
#include "tfst-service.h"
#include "tfst-events-interface.h"
#include "tfst-instance-interface.h"
#include "tfst-ipsec-interface.h"
#include "tfst-keepalive-interface.h"
#include "tfst-logcontrol-interface.h"
#include "tfst-trace-interface.h"

struct TfstService {
  TfstInstanceInterface *instance;
  GPtrArray *interfaces; /* GDBusInterfaceSkeleton: Keepalive, Events, Ipsec, Trace */
  TfstLogcontrolInterface *logcontrol;
};

/* LogControl1 changed the level: Instance.LogLevel, its 0-3 alias, follows. */
static void
log_level_changed_cb(gpointer data)
{
  TfstService *svc = data;

  tfst_instance_interface_log_level_changed(svc->instance);
}

TfstService *
tfst_service_new(TfstEngine *engine, const TfstConfig *config, TfstLog *log, TfstAuthz *authz,
                 TfstReloadFunc reload, gpointer reload_data)
{
  TfstService *svc = g_new0(TfstService, 1);

  svc->instance = tfst_instance_interface_new(engine, config, log, authz, reload, reload_data);
  /* The other interfaces: one self-contained module each, its state owned
   * by its skeleton. */
  svc->interfaces = g_ptr_array_new_with_free_func(g_object_unref);
  g_ptr_array_add(svc->interfaces, tfst_keepalive_interface_new(authz, engine, config));
  g_ptr_array_add(svc->interfaces, tfst_events_interface_new(authz, engine));
  g_ptr_array_add(svc->interfaces, tfst_ipsec_interface_new(authz, log));
  g_ptr_array_add(svc->interfaces, tfst_trace_interface_new(authz, log));
  svc->logcontrol = tfst_logcontrol_interface_new(authz, log, log_level_changed_cb, svc);
  return svc;
}

void
tfst_service_attach(TfstService *svc, TfstBus *bus)
{
  tfst_bus_add_interface(bus, tfst_instance_interface_get_skeleton(svc->instance));
  for (guint i = 0; i < svc->interfaces->len; i++)
    tfst_bus_add_interface(bus, g_ptr_array_index(svc->interfaces, i));
  tfst_bus_add_interface_at(bus, G_DBUS_INTERFACE_SKELETON(svc->logcontrol),
                            TFST_LOGCONTROL_OBJECT_PATH);
  tfst_instance_interface_refresh(svc->instance);
}

void
tfst_service_set_state(TfstService *svc, const char *state)
{
  tfst_instance_interface_set_state(svc->instance, state);
}

void
tfst_service_free(TfstService *svc)
{
  tfst_instance_interface_free(svc->instance);
  g_ptr_array_unref(svc->interfaces);
  g_clear_object(&svc->logcontrol);
  g_free(svc);
}
