/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The properties and signals of org.tfst.Tfst1.Instance that follow the
 * data plane: installed as the engine's observer, it turns "changed" into
 * engine snapshots (at most four a second, bursts coalesced) applied to the
 * properties, emits SessionsChanged at most once a second, and forwards
 * TLS handshake results and parent switches as signals.  Main context
 * only. */
#pragma once

#include "tfst-dbus-generated.h"
#include "tfst-engine.h"
#include "tfst-log.h"

typedef struct TfstInstanceRefresh TfstInstanceRefresh;

/* Becomes `engine`'s observer; `engine` and `log` must outlive it. */
TfstInstanceRefresh *tfst_instance_refresh_new(TfstEngine *engine, TfstDbusTfst1Instance *instance,
                                               TfstLog *log) G_GNUC_WARN_UNUSED_RESULT;
/* Schedules a snapshot: at once, or when the last one is a quarter of a
 * second old. */
void tfst_instance_refresh_request(TfstInstanceRefresh *refresh);
/* "reloading" or "stopping" while that is going on; NULL: from the engine. */
void tfst_instance_refresh_set_state(TfstInstanceRefresh *refresh, const char *state);
void tfst_instance_refresh_free(TfstInstanceRefresh *refresh);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstInstanceRefresh, tfst_instance_refresh_free)
