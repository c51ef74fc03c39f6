/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One [Events NAME] section in the data plane: its counters, the journal
 * lines about drops and a filling spool.  The collecting and delivering
 * ends (tfst-event-send.c, tfst-event-deliver.c) hang off it. */
#include "tfst-events.h"

#include <string.h>

static const char *const drop_names[TFST_EVENT_DROP_KINDS] = {
    [TFST_EVENT_DROP_SPOOL_FULL] = "spool-full",
    [TFST_EVENT_DROP_SPOOL_ERROR] = "spool-error",
    [TFST_EVENT_DROP_BLOCK_UDP] = "block-udp",
    [TFST_EVENT_DROP_NO_PATH] = "no-path",
    [TFST_EVENT_DROP_CONGESTED] = "congested",
    [TFST_EVENT_DROP_NO_TARGET] = "no-target",
    [TFST_EVENT_DROP_NOT_ALLOWED] = "not-allowed",
    [TFST_EVENT_DROP_POLICY_OLDEST] = "policy-oldest",
};

static const char *const malformed_names[TFST_EVENT_MALFORMED_KINDS] = {
    [TFST_EVENT_MALFORMED_OVERSIZE] = "oversize",
    [TFST_EVENT_MALFORMED_TRUNCATED] = "truncated",
    [TFST_EVENT_MALFORMED_FRAMING] = "framing",
    [TFST_EVENT_MALFORMED_EMPTY] = "empty",
};

const char *
tfst_event_sink_drop_name(TfstEventDrop why)
{
  return why < TFST_EVENT_DROP_KINDS ? drop_names[why] : "unknown";
}

const char *
tfst_event_sink_malformed_name(TfstEventMalformed why)
{
  return why < TFST_EVENT_MALFORMED_KINDS ? malformed_names[why] : "unknown";
}

void
tfst_event_sink_stream_key(char key[TFST_EVENT_STREAM_KEY_MAX], const char *origin,
                           const char *sink)
{
  g_snprintf(key, TFST_EVENT_STREAM_KEY_MAX, "%s/%s", origin, sink);
}

TfstEventSink *
tfst_event_sink_new(TfstEngine *e, const TfstEventsConf *conf)
{
  TfstEventSink *s = g_new0(TfstEventSink, 1);

  s->engine = e;
  s->conf = conf;
  s->rl_drop = s->rl_error =
      (TfstRatelimit)TFST_RATELIMIT_INIT(TFST_LOG_PEER_INTERVAL_US, TFST_LOG_PEER_BURST);
  s->rto_ms = TFST_EVENTS_RTO_MIN_MS;
  return s;
}

TfstEventSink *
tfst_event_sink_find(TfstEngine *e, const char *name)
{
  for (guint i = 0; e->events != NULL && i < e->events->sinks->len; i++) {
    TfstEventSink *s = g_ptr_array_index(e->events->sinks, i);
    if (strcmp(s->conf->name, name) == 0)
      return s;
  }
  return NULL;
}

/* Senders and the chain can make us drop at any rate: one line per burst. */
void
tfst_event_sink_drop(TfstEventSink *s, TfstEventDrop why, guint64 n)
{
  TfstLogFields f = {.message_id = TFST_MSGID_EVENTS_DROP};

  s->c.dropped[why] += n;
  tfst_log_limited(s->engine->log, &s->rl_drop, LOG_WARNING, &f,
                   "[Events %s] dropped %" G_GUINT64_FORMAT " event%s: %s", s->conf->name, n,
                   n == 1 ? "" : "s", drop_names[why]);
}

void
tfst_event_sink_check_fill(TfstEventSink *s)
{
  TfstLogFields f = {.message_id = TFST_MSGID_SPOOL_HIGH};
  guint64 cap = s->conf->spool.max_bytes;
  guint64 used = s->spool != NULL ? tfst_spool_bytes(s->spool) : 0;

  if (!s->high_logged && used * 100 >= cap * TFST_EVENTS_SPOOL_HIGH_PCT) {
    s->high_logged = TRUE;
    tfst_log_full(s->engine->log, LOG_WARNING, &f,
                  "[Events %s] spool %" G_GUINT64_FORMAT "%% full (%" G_GUINT64_FORMAT
                  " of %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT
                  " events not acknowledged by the far end)",
                  s->conf->name, used * 100 / cap, used, cap, tfst_spool_events(s->spool));
  } else if (s->high_logged && used * 100 < cap * TFST_EVENTS_SPOOL_LOW_PCT) {
    s->high_logged = FALSE;
  }
}

void
tfst_event_sink_clear(TfstEventSink *s)
{
  memset(&s->c, 0, sizeof(s->c));
  if (s->spool != NULL)
    s->oldest_base = tfst_spool_counters(s->spool)->dropped_oldest;
  if (s->input != NULL)
    tfst_event_input_clear_counters(s->input);
}

char *
tfst_event_sink_format_addr(const TfstEventAddr *a)
{
  char buf[TFST_ADDR_STRLEN];

  return g_strdup_printf("%s:%s", a->transport == TFST_EVENT_UDP ? "udp" : "tcp",
                         tfst_addr_format(&a->addr, buf));
}
