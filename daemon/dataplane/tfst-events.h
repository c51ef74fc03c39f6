/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event sink inside the data plane (docs/events.md; the wire in
 * docs/protocol.md §5), shared by its files:
 *   tfst-event-order.c    the delivering end's go-back-N state of a stream (pure)
 *   tfst-event-sink.c     one [Events NAME] section: counters, drops, journal
 *   tfst-event-send.c     the collecting end: input -> spool -> EVENT batches
 *   tfst-event-deliver.c  the delivering end: EVENT -> target -> EVENT_ACK
 *   tfst-event-relay.c    a relay: EVENT up, EVENT_ACK down
 *   tfst-events.c         what the engine calls: start, frames, hops, reload
 * Everything here runs on the data-plane thread. */
#pragma once

#include "tfst-engine-private.h"
#include "tfst-event-input.h"
#include "tfst-event-target.h"
#include "tfst-ratelimit.h"
#include "tfst-spool.h"

/* Unacknowledged events the collecting end keeps in flight. */
#define TFST_EVENTS_WINDOW_BYTES  (1024u * 1024u)
#define TFST_EVENTS_WINDOW_EVENTS 4096u
/* No ack progress for this long with events in flight: send them again. */
#define TFST_EVENTS_RTO_MIN_MS 1000u
#define TFST_EVENTS_RTO_MAX_MS 8000u
/* Streams the delivering end (and a relay, for its counters) remembers. */
#define TFST_EVENTS_MAX_STREAMS    4096u
#define TFST_EVENTS_SPOOL_RETRY_MS 10000u
/* The journal says so once the spool is this full, and again after it
 * went below the low mark. */
#define TFST_EVENTS_SPOOL_HIGH_PCT 80u
#define TFST_EVENTS_SPOOL_LOW_PCT  70u
/* One EVENT frame being built. */
#define TFST_EVENTS_FRAME_CAP (TFST_FRAME_HEADER_SIZE + TFST_FRAME_MAX_PAYLOAD)

typedef enum {
  TFST_EVENT_DROP_SPOOL_FULL,
  TFST_EVENT_DROP_SPOOL_ERROR,
  TFST_EVENT_DROP_BLOCK_UDP,
  TFST_EVENT_DROP_NO_PATH,
  TFST_EVENT_DROP_CONGESTED,
  TFST_EVENT_DROP_NO_TARGET,
  TFST_EVENT_DROP_NOT_ALLOWED,
  TFST_EVENT_DROP_POLICY_OLDEST, /* the spool's count, shown with the others */
  TFST_EVENT_DROP_KINDS,
} TfstEventDrop;

typedef struct {
  guint64 received;
  guint64 spooled;
  guint64 forwarded;
  guint64 resent;
  guint64 acknowledged;
  guint64 delivered;
  guint64 duplicates;
  guint64 dropped[TFST_EVENT_DROP_KINDS];
  guint64 malformed[TFST_EVENT_MALFORMED_KINDS];
} TfstEventCounters;

/* tfst-event-order.c: where one stream stands at the delivering end. */
typedef struct {
  guint64 epoch; /* 0: nothing received yet */
  guint64 next;  /* the sequence number expected next */
  guint64 acked; /* written to the target up to here */
} TfstEventOrder;

typedef enum {
  TFST_EVENT_TAKE,      /* the one expected: to the target */
  TFST_EVENT_DUPLICATE, /* had it: skip */
  TFST_EVENT_GAP,       /* one before it is missing: discard the rest */
} TfstEventVerdict;

/* A batch of `epoch` whose sender holds nothing below `base`. */
void tfst_event_order_batch(TfstEventOrder *o, guint64 epoch, guint64 base);
TfstEventVerdict tfst_event_order_verdict(const TfstEventOrder *o, guint64 seq);
void tfst_event_order_taken(TfstEventOrder *o);
/* The target wrote `seq`; FALSE when that acknowledges nothing new. */
gboolean tfst_event_order_written(TfstEventOrder *o, guint64 epoch, guint64 seq);
/* The target lost what it had queued: expect the rest again after acked. */
void tfst_event_order_lost(TfstEventOrder *o);

typedef struct TfstEventSink TfstEventSink;

struct TfstEventSink {
  TfstEngine *engine;
  const TfstEventsConf *conf; /* in engine->config, updated in place on reload */
  TfstEventCounters c;
  guint64 oldest_base; /* the spool's dropped_oldest at the last clear */
  TfstRatelimit rl_drop;
  TfstRatelimit rl_error;
  gboolean high_logged;

  /* collecting end (Listen=) */
  TfstEventInput *input;
  TfstSpool *spool; /* NULL: could not be opened, retried */
  sd_event_source *spool_retry;
  sd_event_source *sync_io;
  sd_event_source *sync_timer;
  sd_event_source *pump; /* defer: send what the window allows */
  sd_event_source *rto;
  TfstHop *path; /* the parent hop batches go on, NULL: none */
  guint64 send_next;
  guint64 acked;
  guint64 sent_high; /* the highest sequence number sent at all */
  guint64 inflight_bytes;
  guint32 *inflight_len; /* TFST_EVENTS_WINDOW_EVENTS, by seq modulo */
  guint rto_ms;
  guint32 far_status;
  gboolean input_paused;
  gboolean syncing; /* SpoolSync=always: a sync runs, TCP senders wait */
  guint8 *frame;
  guint8 *event_buf;

  /* delivering end (Target=) */
  TfstEventTarget *target;
  guint32 target_err; /* why the target is not up, 0: up or never tried */
  guint64 next_token;
  GQueue written; /* TfstEventPending, in token order */
};

/* A stream at the delivering end: one (origin, sink) pair. */
typedef struct {
  char origin[TFST_LABEL_MAX + 1];
  char sink[TFST_LABEL_MAX + 1];
  TfstEventOrder order;
  TfstHop *hop; /* where its last EVENT came from, NULL: gone */
  guint32 status;
  guint pending; /* events queued at the target, not written yet */
  gboolean ack_due;
  GList lru_link; /* in events->lru, most recent last */
  GList due_link; /* in events->due while ack_due */
} TfstEventDeliverStream;

/* A stream passing a relay, for its counters. */
typedef struct {
  char origin[TFST_LABEL_MAX + 1];
  char sink[TFST_LABEL_MAX + 1];
  char path[TFST_LABEL_MAX + 1];
  guint64 received;
  guint64 forwarded;
  guint64 acks;
  guint64 dropped[TFST_EVENT_DROP_KINDS];
  gint64 last_us;
} TfstEventRelayStream;

struct TfstEvents {
  GPtrArray *sinks;    /* TfstEventSink */
  GHashTable *streams; /* "origin/sink" -> TfstEventDeliverStream */
  GQueue lru;          /* the same, least recently used first */
  GQueue due;          /* streams with an EVENT_ACK to send */
  sd_event_source *ack_flush;
  GHashTable *relays; /* "origin/sink" -> TfstEventRelayStream */
  guint8 *scratch;    /* a relayed frame */
  TfstRatelimit rl_refused;
  guint64 unknown_sink; /* EVENTs for a sink with no Target= here */
};

/* The key of a stream in the delivering end's and the relay's tables:
 * "origin/sink" (labels cannot hold '/'). */
#define TFST_EVENT_STREAM_KEY_MAX (2 * TFST_LABEL_MAX + 2)

/* tfst-event-sink.c */
void tfst_event_sink_stream_key(char key[TFST_EVENT_STREAM_KEY_MAX], const char *origin,
                                const char *sink);
TfstEventSink *tfst_event_sink_new(TfstEngine *e, const TfstEventsConf *conf);
/* The sink of [Events name], NULL: none here. */
TfstEventSink *tfst_event_sink_find(TfstEngine *e, const char *name);
const char *tfst_event_sink_drop_name(TfstEventDrop why);
const char *tfst_event_sink_malformed_name(TfstEventMalformed why);
/* Counts `n` dropped events and says so in the journal (rate limited). */
void tfst_event_sink_drop(TfstEventSink *s, TfstEventDrop why, guint64 n);
/* The 80 % line after the spool grew, and its reset after it shrank. */
void tfst_event_sink_check_fill(TfstEventSink *s);
void tfst_event_sink_clear(TfstEventSink *s);
/* "udp:127.0.0.1:514", "tcp:[::1]:6514" */
char *tfst_event_sink_format_addr(const TfstEventAddr *a);

/* tfst-event-send.c */
gboolean tfst_event_send_open(TfstEventSink *s, GPtrArray *activated, GError **error);
void tfst_event_send_close(TfstEventSink *s);
/* The hop batches take from now on (NULL: none): unacknowledged events
 * go again on it at once. */
void tfst_event_send_path(TfstEventSink *s, TfstHop *hop);
void tfst_event_send_ack(TfstEventSink *s, const TfstEventAckMsg *m);
void tfst_event_send_kick(TfstEventSink *s);
/* Flush(): resend now, the retransmission backoff reset. */
void tfst_event_send_flush(TfstEventSink *s);
void tfst_event_send_reload(TfstEventSink *s);
guint64 tfst_event_send_epoch(const TfstEventSink *s);

/* tfst-event-deliver.c */
void tfst_event_deliver_open(TfstEventSink *s);
void tfst_event_deliver_close(TfstEventSink *s);
void tfst_event_deliver_frame(TfstEngine *e, TfstHop *hop, const TfstEventMsg *m);
/* Streams whose EVENTs came on `hop` forget it. */
void tfst_event_deliver_hop_down(TfstEngine *e, TfstHop *hop);
void tfst_event_deliver_free_streams(TfstEngine *e);

/* tfst-event-relay.c */
void tfst_event_relay_frame(TfstEngine *e, TfstHop *hop, const TfstFrameHeader *h,
                            const guint8 *payload, const TfstEventMsg *m);
void tfst_event_relay_ack(TfstEngine *e, const TfstFrameHeader *h, const guint8 *payload,
                          const TfstEventAckMsg *m);
void tfst_event_relay_clear(TfstEngine *e);
