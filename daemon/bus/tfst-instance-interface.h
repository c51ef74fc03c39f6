/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Instance: who the instance is (role, name, label,
 * version), its state and hops as properties that follow the engine
 * (tfst-instance-refresh.h), and the methods on sessions, statistics, the
 * log level and reload, checked with polkit and answered from the data
 * plane. */
#pragma once

#include "tfst-authz.h"
#include "tfst-config.h"
#include "tfst-engine.h"
#include "tfst-log.h"

/* Reloads the configuration as SIGHUP does; FALSE with `error` when the new
 * configuration is refused. */
typedef gboolean (*TfstReloadFunc)(gpointer user_data, GError **error);

typedef struct TfstInstanceInterface TfstInstanceInterface;

/* Becomes `engine`'s observer; `engine`, `log` and `authz` must outlive
 * it. */
TfstInstanceInterface *tfst_instance_interface_new(TfstEngine *engine, const TfstConfig *config,
                                                   TfstLog *log, TfstAuthz *authz,
                                                   TfstReloadFunc reload, gpointer reload_data);
/* The skeleton to export; owned by `iface`. */
GDBusInterfaceSkeleton *tfst_instance_interface_get_skeleton(TfstInstanceInterface *iface);
/* Brings the properties up to date from an engine snapshot. */
void tfst_instance_interface_refresh(TfstInstanceInterface *iface);
/* The log level changed elsewhere (org.freedesktop.LogControl1): LogLevel
 * follows at once. */
void tfst_instance_interface_log_level_changed(TfstInstanceInterface *iface);
/* "reloading" or "stopping" while that is going on; NULL: from the engine. */
void tfst_instance_interface_set_state(TfstInstanceInterface *iface, const char *state);
void tfst_instance_interface_free(TfstInstanceInterface *iface);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstInstanceInterface, tfst_instance_interface_free)
