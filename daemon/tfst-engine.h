/* The data plane: every hop and session socket, on an sd-event (epoll) loop
 * in its own thread so the GLib control plane can never stall it. */
#pragma once

#include "tfst-config.h"
#include "tfst-log.h"

typedef struct TfstEngine TfstEngine;

/* Binds every listener (so bind errors surface before READY=1). */
TfstEngine *tfst_engine_new(TfstConfig *config, TfstLog *log, GError **error);
gboolean tfst_engine_start(TfstEngine *engine, GError **error);
/* Asks the data plane to stop and waits for it; returns its exit status. */
int tfst_engine_stop(TfstEngine *engine);
void tfst_engine_free(TfstEngine *engine);
/* Applies what can change live (the engine takes `config`); logs what
 * needs a restart. */
void tfst_engine_reload(TfstEngine *engine, TfstConfig *config);
/* Test hook for the watchdog: the data plane stops answering. */
void tfst_engine_block_for_test(TfstEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstEngine, tfst_engine_free)
