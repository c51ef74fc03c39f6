/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The choice among parent hops: every parent hop is kept up (hot
 * standby); new upcall sessions go to the active one.  It changes at once
 * when the active hop goes down or loses its root (failover), and back to
 * a more preferred hop only after FailbackDelay= (failback).  Running
 * sessions never move. */
#include "tfst-engine-private.h"

#include <string.h>

static gboolean
forward_offered(const TfstHop *hop, const char *forward)
{
  const GArray *fw = hop->above.forwards;

  /* A parent that does not announce its forwards (an older peer) may
   * serve any. */
  if (forward == NULL || fw == NULL || fw->len == 0)
    return TRUE;
  for (guint i = 0; i < fw->len; i++)
    if (strcmp(g_array_index(fw, TfstForwardEntry, i).name, forward) == 0)
      return TRUE;
  return FALSE;
}

/* Up, not closing, and its chain reaches an endpoint proxy serving
 * `forward` (NULL: any). */
static gboolean
parents_usable(const TfstHop *hop, const char *forward)
{
  return hop != NULL && hop->direction == TFST_HOP_TO_PARENT && hop->up && !hop->closing &&
         hop->above.rooted && forward_offered(hop, forward);
}

/* The most preferred usable parent hop other than `except`. */
static TfstHop *
parents_best_except(TfstEngine *e, const char *forward, const TfstHop *except)
{
  TfstHop *best = NULL;

  for (guint i = 0; i < e->parent_hops->len; i++) {
    TfstHop *hop = g_ptr_array_index(e->parent_hops, i);
    if (hop != except && parents_usable(hop, forward) &&
        (best == NULL || hop->preference < best->preference))
      best = hop;
  }
  return best;
}

static TfstHop *
parents_best(TfstEngine *e, const char *forward)
{
  return parents_best_except(e, forward, NULL);
}

TfstHop *
tfst_parents_other(TfstEngine *e, const char *forward, const TfstHop *failed)
{
  TfstHop *hop = parents_best_except(e, forward, failed);

  return hop != NULL ? hop : parents_best_except(e, NULL, failed);
}

/* A forward no parent announces still goes up the active path: the
 * endpoint proxy's OPEN_FAIL (and its journal line) says what is wrong. */
TfstHop *
tfst_parents_for(TfstEngine *e, const char *forward)
{
  TfstHop *hop;

  if (parents_usable(e->active_parent, forward))
    return e->active_parent;
  if ((hop = parents_best(e, forward)) != NULL)
    return hop;
  return parents_usable(e->active_parent, NULL) ? e->active_parent : parents_best(e, NULL);
}

gboolean
tfst_parents_rooted(TfstEngine *e)
{
  return parents_best(e, NULL) != NULL;
}

const char *
tfst_parents_role(TfstEngine *e, const TfstHop *hop)
{
  if (hop == NULL || !hop->up || hop->closing)
    return "down";
  return hop == e->active_parent ? "active" : "standby";
}

static const char *
parent_name(const TfstHop *hop)
{
  return hop != NULL ? hop->peer_label : "";
}

static void
parents_log_switch(TfstEngine *e, const char *kind, TfstHop *from, TfstHop *to, const char *why)
{
  gboolean over = g_str_equal(kind, "failover");
  TfstLogFields f = {.message_id = over ? TFST_MSGID_FAILOVER : TFST_MSGID_FAILBACK,
                     .peer_label = to != NULL ? to->peer_label : parent_name(from)};

  if (to == NULL)
    tfst_log_full(e->log, LOG_ERR, &f,
                  "%s: no parent hop can take new sessions (%s was active): %s", kind,
                  parent_name(from), why);
  else if (from == NULL)
    tfst_log_full(e->log, LOG_NOTICE, &f,
                  "%s: new sessions go to parent %s (%s); no parent could take them before", kind,
                  to->peer_label, to->peer_desc);
  else
    tfst_log_full(e->log, over ? LOG_WARNING : LOG_NOTICE, &f,
                  "%s: new sessions go to parent %s (%s) instead of %s: %s", kind, to->peer_label,
                  to->peer_desc, from->peer_label, why);
  tfst_notify_parent_switched(e, kind, parent_name(from), parent_name(to), why);
}

/* Several parents configured: only then is a change of the active one a
 * failover worth a line (with one, "hop lost" and "hop up" say it all). */
static gboolean
parents_redundant(TfstEngine *e)
{
  guint n = 0;

  for (guint i = 0; i < e->connectors->len; i++)
    n += ((TfstConnector *)g_ptr_array_index(e->connectors, i))->direction == TFST_HOP_TO_PARENT;
  return n > 1 || e->config->max_parents > 1;
}

static void
parents_set_active(TfstEngine *e, TfstHop *next, const char *kind, const char *why)
{
  TfstHop *prev = e->active_parent;

  e->active_parent = next;
  /* The first parent to come up is no switch. */
  if (parents_redundant(e) && (prev != NULL || e->parents_ever_active))
    parents_log_switch(e, kind, prev, next, why);
  if (next != NULL)
    e->parents_ever_active = TRUE;
  tfst_notify_changed(e);
}

static int
parents_failback_cb(sd_event_source *s G_GNUC_UNUSED, guint64 usec G_GNUC_UNUSED, void *userdata)
{
  TfstEngine *e = userdata;

  tfst_parents_update(e, NULL);
  return 0;
}

static void
parents_arm_failback(TfstEngine *e, gint64 at_us)
{
  if (e->failback_timer == NULL && sd_event_add_time(e->event, &e->failback_timer, CLOCK_MONOTONIC,
                                                     at_us, 0, parents_failback_cb, e) < 0) {
    e->failback_timer = NULL;
    return; /* ENOMEM: the next change of any parent hop decides again */
  }
  (void)sd_event_source_set_time(e->failback_timer, at_us);
  (void)sd_event_source_set_enabled(e->failback_timer, SD_EVENT_ONESHOT);
}

/* Why `best` takes over now, or NULL when not (yet: the failback timer is
 * armed for when FailbackDelay= has passed). */
static char *
failback_reason(TfstEngine *e, TfstHop *best)
{
  guint delay = e->config->failback_delay_ms;
  gint64 at = best->usable_since_us + (gint64)delay * 1000;
  const char *active = parent_name(e->active_parent);

  /* At start the parents come up in any order: one that could never take
   * sessions before is not coming back from a failure, and takes over at
   * once. */
  if (best->connector != NULL && !best->connector->was_usable)
    return g_strdup_printf("it is preferred and can take sessions for the first time; %s keeps its "
                           "running sessions",
                           active);
  if (delay == TFST_FAILBACK_NEVER)
    return NULL;
  if (delay > 0 && g_get_monotonic_time() < at) {
    parents_arm_failback(e, at);
    return NULL;
  }
  return g_strdup_printf("it is preferred and has been up for %u ms (FailbackDelay=); %s keeps "
                         "its running sessions",
                         delay, active);
}

/* The active hop is usable, but `best` is preferred. */
static void
parents_consider_failback(TfstEngine *e, TfstHop *best)
{
  g_autofree char *why = failback_reason(e, best);

  if (why != NULL)
    parents_set_active(e, best, "failback", why);
}

/* Since when each parent hop could take sessions: FailbackDelay= counts
 * from there, so a hop that stayed up while its own parent was away is
 * coming back too. */
static void
parents_track_usable(TfstEngine *e)
{
  gint64 now = g_get_monotonic_time();

  for (guint i = 0; i < e->parent_hops->len; i++) {
    TfstHop *hop = g_ptr_array_index(e->parent_hops, i);
    if (hop->direction != TFST_HOP_TO_PARENT)
      continue;
    if (!parents_usable(hop, NULL))
      hop->usable_since_us = 0;
    else if (hop->usable_since_us == 0)
      hop->usable_since_us = now;
  }
}

/* After the decision: what could take sessions now is no newcomer later. */
static void
parents_mark_usable(TfstEngine *e)
{
  for (guint i = 0; i < e->parent_hops->len; i++) {
    TfstHop *hop = g_ptr_array_index(e->parent_hops, i);
    if (hop->connector != NULL && parents_usable(hop, NULL))
      hop->connector->was_usable = TRUE;
  }
}

/* Decides the active parent again after any change of a parent hop
 * (`why`: what happened, for the failover line). */
void
tfst_parents_update(TfstEngine *e, const char *why)
{
  TfstHop *best = parents_best(e, NULL);
  TfstHop *cur = e->active_parent;

  parents_track_usable(e);
  if (!parents_usable(cur, NULL)) {
    if (best != cur)
      parents_set_active(e, best, "failover",
                         why != NULL ? why : "the active parent hop is down or not rooted");
  } else if (best != NULL && best != cur && best->preference < cur->preference) {
    parents_consider_failback(e, best);
  }
  parents_mark_usable(e);
  e->accepting_cb(e, e->active_parent != NULL);
}

void
tfst_parents_free(TfstEngine *e)
{
  e->failback_timer = sd_event_source_disable_unref(e->failback_timer);
}
