/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The data plane: every hop and session socket, on an sd-event (epoll) loop
 * in its own thread so the GLib control plane can never stall it. */
#pragma once

#include "tfst-config.h"
#include "tfst-log.h"

#include <gio/gio.h>

typedef struct TfstEngine TfstEngine;

/* The largest reply a method builds: the system bus refuses a message
 * above 32 MiB (and drops the connection that sent it, the instance's),
 * so lists that grow with traffic stop well short of that and fail with
 * advice instead (narrow the filter, export the trace). */
#define TFST_DBUS_REPLY_MAX (16 * 1024 * 1024)

/* What the data plane tells the control plane; called on the main context
 * (the thread that runs the GLib main loop), never on the data plane. */
typedef struct {
  /* Something in the snapshot (tfst_inspect_snapshot) may have changed.
   * Coalesced: one call until the control plane asks for a snapshot. */
  void (*changed)(gpointer user_data);
  /* A hop handshake completed (ok) or failed; rate-limited to 10 a second. */
  void (*handshake)(gpointer user_data, gboolean ok, const char *label, const char *reason);
  /* New upcall sessions moved to another parent hop: kind "failover" (the
   * active one went down) or "failback" (a more preferred one is back);
   * from/to are parent labels, "" for none.  Not rate-limited: at most one
   * per parent hop state change. */
  void (*parent_switched)(gpointer user_data, const char *kind, const char *from, const char *to,
                          const char *reason);
  /* A new session was refused by a limit: limit "max-sessions",
   * "max-sessions-per-child" or "open-rate"; label "" for the instance as
   * a whole.  Rate-limited to 10 a second. */
  void (*session_refused)(gpointer user_data, const char *label, const char *limit,
                          const char *reason);
} TfstEngineObserver;

/* Runs on the data-plane thread with everything the loop owns at hand;
 * returns the reply, or NULL and sets `error`. */
typedef GVariant *(*TfstEngineQueryFunc)(TfstEngine *engine, gpointer data, GError **error);

/* Binds every listener (so bind errors surface before READY=1). */
TfstEngine *tfst_engine_new(TfstConfig *config, TfstLog *log, GError **error);
gboolean tfst_engine_start(TfstEngine *engine, GError **error);
/* Asks the data plane to stop and waits for it; returns its exit status. */
int tfst_engine_stop(TfstEngine *engine);
void tfst_engine_free(TfstEngine *engine);
/* Applies what can change live (the engine takes `config`); logs what
 * needs a restart. */
void tfst_engine_reload(TfstEngine *engine, TfstConfig *config);
/* Before tfst_engine_start(); `observer` must outlive the engine. */
void tfst_engine_set_observer(TfstEngine *engine, const TfstEngineObserver *observer,
                              gpointer user_data);
/* Runs `func` on the data plane; `callback` gets the result on the calling
 * thread's main context.  `data` is freed with `destroy` after `func` ran. */
void tfst_engine_query_async(TfstEngine *engine, TfstEngineQueryFunc func, gpointer data,
                             GDestroyNotify destroy, GAsyncReadyCallback callback,
                             gpointer user_data);
GVariant *tfst_engine_query_finish(TfstEngine *engine, GAsyncResult *result, GError **error);

/* Queries (tfst-inspect.c), for tfst_engine_query_async().  Snapshot:
 * (s state, a(sq) listeners, a(ssqbtuu) parent, a(ssqbtuu) children,
 *  a(si) chain, u sessions, t opened in total, t ended in total,
 *  a(sssssx) TLS certificates, a(ssssssxb) TLS hops, aa{sv} hops,
 *  a(ss) chain links), as the Instance properties of those names. */
GVariant *tfst_inspect_snapshot(TfstEngine *e, gpointer data, GError **error);
/* data: the a{sv} filter (a floating or owned GVariant ref) */
GVariant *tfst_inspect_list_sessions(TfstEngine *e, gpointer data, GError **error);
GVariant *tfst_inspect_get_statistics(TfstEngine *e, gpointer data, GError **error);
/* Replies (a{sv}tt): the counters it set to zero, as GetStatistics had
 * them, the clear time they counted from, and the new clear time. */
GVariant *tfst_inspect_clear_statistics(TfstEngine *e, gpointer data, GError **error);
/* data: a guint64 * session id */
GVariant *tfst_inspect_close_session(TfstEngine *e, gpointer data, GError **error);
/* data: the target string; replies (ttt): sent and received so far, and a
 * token that changes when the target is a different object */
GVariant *tfst_inspect_flow_sample(TfstEngine *e, gpointer data, GError **error);

/* Event sink queries (tfst-inspect-events.c): GetSinks replies (aa{sv}),
 * one dictionary per [Events] section or, at a relay, per event stream
 * passing through, with the keys docs/events.md and
 * org.tfst.Tfst1.Events.xml list; data NULL.  ClearStatistics replies ();
 * Flush: data is the sink name (char *, "" for all), replies (u) the
 * number of sinks it applied to, or fails with G_IO_ERROR_NOT_FOUND. */
GVariant *tfst_inspect_events(TfstEngine *e, gpointer data, GError **error);
GVariant *tfst_inspect_events_clear(TfstEngine *e, gpointer data, GError **error);
GVariant *tfst_inspect_events_flush(TfstEngine *e, gpointer data, GError **error);

/* Keepalive queries (tfst-sockets.c); data: a TfstKeepaliveUpdate.  Get
 * replies (a{sv}); Set merges the changes, retunes every open connection
 * of the scope and replies (a{sv} settings now, as warnings). */
GVariant *tfst_sockets_get_keepalive(TfstEngine *e, gpointer data, GError **error);
GVariant *tfst_sockets_set_keepalive(TfstEngine *e, gpointer data, GError **error);
/* Every TCP socket of the instance, listeners included:
 * (a(tsstuuuuutt)) of (inode, kind, peer label, session id, TCP_INFO
 * state, probes, retransmits, rtt, rttvar, bytes acked, bytes received). */
GVariant *tfst_sockets_describe(TfstEngine *e, gpointer data, GError **error);

/* Test hook for the watchdog: the data plane stops answering. */
void tfst_engine_block_for_test(TfstEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstEngine, tfst_engine_free)
