/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Change notification to the control plane: the data-plane thread queues
 * idles on the main context, where the engine's observer runs.  A leaf:
 * hop, session, router and counters all tell the control plane through
 * here without knowing the engine. */
#include "tfst-engine-private.h"

/* Not g_main_context_invoke(): it runs the function right here when it can
 * acquire the context, which it can while the main loop is not running
 * yet. */
static void
invoke_on_main(GSourceFunc func, gpointer data, GDestroyNotify destroy)
{
  GSource *source = g_idle_source_new();

  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_callback(source, func, data, destroy);
  g_source_set_static_name(source, "tfst-engine-event");
  g_source_attach(source, NULL);
  g_source_unref(source);
}

static gboolean
changed_idle(gpointer data)
{
  TfstEngine *e = data;

  g_atomic_int_set(&e->changed_pending, 0);
  e->observer->changed(e->observer_data);
  return G_SOURCE_REMOVE;
}

/* The control plane refreshes at most every 250 ms anyway
 * (tfst-instance-refresh.c); sending it fewer wake-ups than that costs it
 * nothing, while one per session open and close cost each process two
 * context switches per session (issue 19). */
#define TFST_CHANGED_GAP_US (100 * 1000)

static void
changed_post(TfstEngine *e, gint64 now)
{
  e->changed_posted_us = now;
  e->changed_deferred = FALSE;
  /* One idle is queued until the control plane has seen it. */
  if (g_atomic_int_compare_and_exchange(&e->changed_pending, 0, 1))
    invoke_on_main(changed_idle, e, NULL);
}

static int
changed_timer_cb(sd_event_source *src, guint64 usec, void *userdata)
{
  changed_post(userdata, (gint64)usec);
  return 0;
}

static void
changed_defer(TfstEngine *e)
{
  guint64 due = (guint64)(e->changed_posted_us + TFST_CHANGED_GAP_US);

  e->changed_deferred = TRUE;
  if (e->changed_timer == NULL) {
    if (sd_event_add_time(e->event, &e->changed_timer, CLOCK_MONOTONIC, due, 0, changed_timer_cb,
                          e) < 0)
      changed_post(e, e->changed_posted_us + TFST_CHANGED_GAP_US);
    return;
  }
  sd_event_source_set_time(e->changed_timer, due);
  sd_event_source_set_enabled(e->changed_timer, SD_EVENT_ONESHOT);
}

/* Called often (every session open and close): the first change after a
 * quiet spell goes to the main context at once, the ones right after it
 * together at most TFST_CHANGED_GAP_US later. */
void
tfst_notify_changed(TfstEngine *e)
{
  guint64 now = 0;

  if (e->observer == NULL || e->observer->changed == NULL || e->changed_deferred)
    return;
  sd_event_now(e->event, CLOCK_MONOTONIC, &now);
  if (e->stopping || (gint64)now - e->changed_posted_us >= TFST_CHANGED_GAP_US)
    changed_post(e, (gint64)now);
  else
    changed_defer(e);
}

void
tfst_notify_flush(TfstEngine *e)
{
  if (e->changed_deferred)
    changed_post(e, e->changed_posted_us + TFST_CHANGED_GAP_US);
  e->changed_timer = sd_event_source_disable_unref(e->changed_timer);
}

typedef struct {
  TfstEngine *engine;
  gboolean ok;
  char *label;
  char *reason;
} TfstHandshakeEvent;

static void
handshake_event_free(TfstHandshakeEvent *ev)
{
  g_free(ev->label);
  g_free(ev->reason);
  g_free(ev);
}

static gboolean
handshake_idle(gpointer data)
{
  TfstHandshakeEvent *ev = data;
  TfstEngine *e = ev->engine;

  e->observer->handshake(e->observer_data, ev->ok, ev->label, ev->reason);
  return G_SOURCE_REMOVE;
}

#define TFST_NOTIFY_PER_SECOND 10

/* Whether one more signal fits into this second; a peer that reconnects
 * or opens sessions in a tight loop must not flood the bus. */
static gboolean
notify_allowed(TfstEngine *e, TfstNotifyLimit *limit, const char *what)
{
  gint64 now = g_get_monotonic_time();

  if (now - limit->window_us >= G_USEC_PER_SEC) {
    if (limit->dropped > 0)
      tfst_log(e->log, LOG_NOTICE, "%u %s signals were not emitted (rate limit %u/s)",
               limit->dropped, what, TFST_NOTIFY_PER_SECOND);
    limit->window_us = now;
    limit->events = 0;
    limit->dropped = 0;
  }
  if (++limit->events > TFST_NOTIFY_PER_SECOND) {
    limit->dropped++;
    return FALSE;
  }
  return TRUE;
}

void
tfst_notify_handshake(TfstEngine *e, gboolean ok, const char *label, const char *reason)
{
  TfstHandshakeEvent *ev;

  if (e->observer == NULL || e->observer->handshake == NULL ||
      !notify_allowed(e, &e->handshake_limit, "handshake"))
    return;
  ev = g_new0(TfstHandshakeEvent, 1);
  ev->engine = e;
  ev->ok = ok;
  ev->label = g_strdup(label);
  ev->reason = g_strdup(reason);
  invoke_on_main(handshake_idle, ev, (GDestroyNotify)handshake_event_free);
}

typedef struct {
  TfstEngine *engine;
  char *label;
  const char *limit; /* static */
  char *reason;
} TfstRefusedEvent;

static void
refused_event_free(TfstRefusedEvent *ev)
{
  g_free(ev->label);
  g_free(ev->reason);
  g_free(ev);
}

static gboolean
refused_idle(gpointer data)
{
  TfstRefusedEvent *ev = data;
  TfstEngine *e = ev->engine;

  e->observer->session_refused(e->observer_data, ev->label, ev->limit, ev->reason);
  return G_SOURCE_REMOVE;
}

void
tfst_notify_session_refused(TfstEngine *e, const char *label, const char *limit, const char *reason)
{
  TfstRefusedEvent *ev;

  if (e->observer == NULL || e->observer->session_refused == NULL ||
      !notify_allowed(e, &e->refused_limit, "session refusal"))
    return;
  ev = g_new0(TfstRefusedEvent, 1);
  ev->engine = e;
  ev->label = g_strdup(label);
  ev->limit = limit;
  ev->reason = g_strdup(reason);
  invoke_on_main(refused_idle, ev, (GDestroyNotify)refused_event_free);
}

typedef struct {
  TfstEngine *engine;
  char *kind;
  char *from;
  char *to;
  char *reason;
} TfstSwitchEvent;

static void
switch_event_free(TfstSwitchEvent *ev)
{
  g_free(ev->kind);
  g_free(ev->from);
  g_free(ev->to);
  g_free(ev->reason);
  g_free(ev);
}

static gboolean
switch_idle(gpointer data)
{
  TfstSwitchEvent *ev = data;
  TfstEngine *e = ev->engine;

  e->observer->parent_switched(e->observer_data, ev->kind, ev->from, ev->to, ev->reason);
  return G_SOURCE_REMOVE;
}

/* Not rate-limited: it follows a parent hop's own state changes, which the
 * reconnect backoff already spaces. */
void
tfst_notify_parent_switched(TfstEngine *e, const char *kind, const char *from, const char *to,
                            const char *reason)
{
  TfstSwitchEvent *ev;

  if (e->observer == NULL || e->observer->parent_switched == NULL)
    return;
  ev = g_new0(TfstSwitchEvent, 1);
  ev->engine = e;
  ev->kind = g_strdup(kind);
  ev->from = g_strdup(from);
  ev->to = g_strdup(to);
  ev->reason = g_strdup(reason);
  invoke_on_main(switch_idle, ev, (GDestroyNotify)switch_event_free);
}
