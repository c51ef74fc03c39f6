/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The instance's service on the bus: every interface it serves, one file
 * each (tfst-NAME-interface.c for org.tfst.Tfst1.NAME), made together and
 * handed to the bus together. */
#pragma once

#include "tfst-authz.h"
#include "tfst-bus.h"
#include "tfst-config.h"
#include "tfst-engine.h"
#include "tfst-instance-interface.h"

typedef struct TfstService TfstService;

TfstService *tfst_service_new(TfstEngine *engine, const TfstConfig *config, TfstLog *log,
                              TfstAuthz *authz, TfstReloadFunc reload, gpointer reload_data);
/* Adds every interface to `bus` and starts following the engine. */
void tfst_service_attach(TfstService *service, TfstBus *bus);
/* "reloading" or "stopping" while that is going on; NULL: from the engine. */
void tfst_service_set_state(TfstService *service, const char *state);
void tfst_service_free(TfstService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstService, tfst_service_free)
