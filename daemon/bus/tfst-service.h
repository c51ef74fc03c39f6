/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Instance and the interfaces still to come, served from the
 * control plane: properties follow engine snapshots, methods are checked
 * with polkit and answered from the data plane. */
#pragma once

#include "tfst-authz.h"
#include "tfst-bus.h"
#include "tfst-config.h"
#include "tfst-engine.h"

typedef struct TfstService TfstService;

/* Reloads the configuration as SIGHUP does; FALSE with `error` when the new
 * configuration is refused. */
typedef gboolean (*TfstReloadFunc)(gpointer user_data, GError **error);

TfstService *tfst_service_new(TfstEngine *engine, const TfstConfig *config, TfstLog *log,
                              TfstAuthz *authz, TfstReloadFunc reload, gpointer reload_data);
/* Adds every interface to `bus` and starts following the engine. */
void tfst_service_attach(TfstService *service, TfstBus *bus);
/* "reloading" or "stopping" while that is going on; NULL: from the engine. */
void tfst_service_set_state(TfstService *service, const char *state);
void tfst_service_free(TfstService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstService, tfst_service_free)
