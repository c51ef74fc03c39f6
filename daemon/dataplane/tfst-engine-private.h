/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internals shared by the data-plane files (engine, hop, session, router).
 * Everything here is touched only from the data-plane thread. */
#pragma once

#include "tfst-addr.h"
#include "tfst-buf.h"
#include "tfst-config.h"
#include "tfst-engine.h"
#include "tfst-frame.h"
#include "tfst-log.h"
#include "tfst-pipe.h"
#include "tfst-tls.h"

#include <systemd/sd-event.h>

typedef struct TfstHop TfstHop;
typedef struct TfstSession TfstSession;
typedef struct TfstEnd TfstEnd;
typedef struct TfstListener TfstListener;
typedef struct TfstEvents TfstEvents;
typedef struct TfstConnector TfstConnector;

/* Userspace output queued on a hop before sessions stop feeding it; the
 * kernel socket buffer does the real queueing. */
#define TFST_HOP_OUT_HIGH (512u * 1024u)
#define TFST_HOP_OUT_LOW  (128u * 1024u)
#define TFST_HOP_IN_SLACK (64u * 1024u)
#define TFST_HOP_IN_SIZE  (TFST_FRAME_HEADER_SIZE + TFST_FRAME_MAX_PAYLOAD + TFST_HOP_IN_SLACK)
/* Largest DATA payload we produce: one socket read. */
#define TFST_DATA_CHUNK (128u * 1024u)
/* Zero copy pays from this many payload bytes on: below it, the two extra
 * calls (into the pipe, out of it) cost more than copying the bytes, so
 * small messages keep the copying path and its latency. */
#define TFST_SPLICE_MIN (16u * 1024u)
/* Unsent bytes a hop socket holds before it stops taking more: enough to
 * keep the link busy, little enough that a small frame queued behind bulk
 * data does not wait for megabytes of socket buffer. */
#define TFST_HOP_NOTSENT_LOWAT (256u * 1024u)
/* Windows granted on one hop may grow until they sum to this much. */
#define TFST_HOP_WINDOW_BUDGET    (256u * 1024u * 1024u)
#define TFST_HANDSHAKE_TIMEOUT_US (10 * G_USEC_PER_SEC)
/* Before the handshake a hop reads into a buffer this small, grown only to
 * the size a handshake frame announces: a silent connection costs little. */
#define TFST_HOP_IN_INITIAL 512u
/* What all pending hops together may hold in frames larger than that. */
#define TFST_HOP_PENDING_IN_BUDGET (32u * 1024u * 1024u)
/* Data is queued on a hop only below TFST_HOP_OUT_HIGH, so output far above
 * it is replies (PONG, CREDIT, RST, TELL_OK...) the peer does not read: the
 * hop is no longer read above the pause mark, read again below half of it,
 * and closed if it does not drain within the drain deadline, or at once
 * above the hard cap. */
#define TFST_HOP_OUT_PAUSE        (2u * 1024u * 1024u)
#define TFST_HOP_OUT_MAX          (8u * 1024u * 1024u)
#define TFST_HOP_DRAIN_TIMEOUT_MS 10000u
/* How long a child hop whose label a newcomer claims has to answer a PING
 * (at most PingTimeout=). */
#define TFST_HOP_LIVENESS_MS 2000u
/* Pending (not yet up) hops gone at once from at least this many: give the
 * memory of the burst back to the system. */
#define TFST_HOP_TRIM_PEAK 256u
/* The hop timer paces PINGs and declares a silent peer dead: sd-event's
 * default slack (250 ms) would add a quarter second to every silent
 * failover. */
#define TFST_HOP_TIMER_ACCURACY_US (10 * 1000)
/* The longest "last error" text kept per hop for the tools. */
#define TFST_HOP_ERROR_MAX 256

typedef enum {
  TFST_END_SOCKET,
  TFST_END_STREAM,
} TfstEndKind;

struct TfstEnd {
  TfstSession *session;
  TfstEndKind kind;
  TfstBuf out; /* bytes waiting to leave through this end */

  /* TFST_END_SOCKET */
  int fd;
  guint32 io_mask;
  TfstPipe *pipe; /* spliced bytes waiting to leave, ahead of `out` */

  /* TFST_END_STREAM */
  TfstHop *hop;
  guint32 id;
  gint64 send_credit;    /* bytes we may still send to the peer */
  gint64 recv_allowance; /* bytes the peer may still send us */
  guint32 window;        /* receive window we grant */
  guint32 to_credit;     /* consumed, not yet returned by CREDIT */
  gint64 last_credit_us;
  GList blocked_link; /* in hop->blocked while waiting for hop room */

  /* Flags as bits: a session has two ends, and an idle session should cost
   * as little as it did before the pipe pointer came. */
  guint registered : 1; /* socket: in the engine's session epoll set */
  guint connecting : 1; /* socket: the target connect is in progress */
  guint charged : 1;    /* stream: counted in hop->child_sessions (an OPEN from a child) */
  guint opened : 1;     /* stream: OPEN/OPEN_OK completed */
  guint we_opened : 1;  /* stream: we sent the OPEN */
  guint in_eof : 1;     /* nothing more will arrive through this end */
  guint out_fin : 1;    /* the other direction ended: FIN after `out` drains */
  guint fin_done : 1;   /* FIN sent / SHUT_WR done */
  /* socket: its last read was bulk (TFST_SPLICE_MIN or more), so the next
   * one is spliced when zero copy is on */
  guint bulk : 1;
  guint64 bytes_in;
  guint64 bytes_out;
};

/* How often an opening session is opened again on the next parent hop
 * after the one it was opening on was lost or had no path up. */
#define TFST_SESSION_OPEN_RETRIES 4

typedef enum {
  TFST_SESSION_OPENING,
  TFST_SESSION_OPEN,
} TfstSessionState;

struct TfstSession {
  TfstEngine *engine;
  guint64 id;     /* rs=N in logs */
  TfstEnd end[2]; /* [0] the side the session came from, [1] toward its target */
  TfstSessionState state;
  gboolean dead;       /* released inside a dispatch batch, freed after it */
  gboolean originated; /* we accepted the client socket (end[0] is it) */
  /* Interned (GRefString): a chain has few distinct labels, and an idle
   * session should not carry two label buffers. */
  char *forward;
  char *origin; /* the proxy that accepted the client */
  char *route;  /* a downcall: the gateway proxy it goes to; NULL: upcall */
  TfstSockAddr client;
  TfstSockAddr dest;
  gint64 last_activity_us;
  gint64 half_closed_us; /* when the first direction ended, 0: not yet */
  gint64 started_us;
  gboolean upcall;     /* the client is at a gateway proxy */
  guint8 open_retries; /* opened again on another parent hop (session_retry_open) */
  gboolean counted;    /* its end is already in the statistics */
  sd_event_source *timer;
  GList link; /* in engine->sessions */
};

typedef enum {
  TFST_HOP_TO_PARENT, /* we are the child on this hop */
  TFST_HOP_TO_CHILD,  /* we are the parent on this hop */
} TfstHopDirection;

struct TfstHop {
  TfstEngine *engine;
  TfstHopDirection direction;
  TfstConnector *connector; /* NULL when accepted */
  int fd;
  sd_event_source *io;
  sd_event_source *flush;
  sd_event_source *timer; /* handshake deadline, then PING */
  guint32 io_mask;
  TfstSockAddr peer_addr;
  char peer_desc[TFST_ADDR_STRLEN];
  char peer_label[TFST_LABEL_MAX + 1];

  guint8 *in;
  gsize in_cap; /* TFST_HOP_IN_INITIAL until up, then TFST_HOP_IN_SIZE */
  gsize in_off; /* first unparsed byte */
  gsize in_len;
  TfstBuf out;
  /* Zero copy (tfst-pipe.h): one DATA frame whose payload is in a pipe,
   * written before `out` (tx_hdr first; tx_hdr_off of it already sent),
   * and one whose payload is being spliced in: rx_left bytes of it still
   * in the socket, for stream rx_session. */
  TfstPipe *tx_pipe;
  guint8 tx_hdr[TFST_FRAME_HEADER_SIZE];
  guint8 tx_hdr_off;
  gboolean rx_header_only; /* the last DATA was spliced: read the next header alone */
  guint32 rx_left;
  guint32 rx_session;
  GQueue blocked;         /* TfstEnd waiting for room in `out` */
  gboolean rx_paused;     /* `out` above TFST_HOP_OUT_PAUSE: not read */
  gboolean overflow;      /* `out` hit TFST_HOP_OUT_MAX: close on the next flush */
  sd_event_source *drain; /* deadline for a paused hop to drain */
  gboolean pending;       /* accepted, not up: counted in engine->pending_* */
  /* A newcomer claiming the label of a live child waits, TELL held, while
   * the old hop is asked for a PONG (challenge_us on the old hop). */
  gboolean takeover_wait;
  GBytes *held_tell;
  gint64 challenge_us; /* 0: no liveness check running on this hop */
  gboolean logged;     /* its closing was already logged */
  /* Why it closed, "ERRNAME: reason", for the connector's last error and
   * the failover line. */
  char close_why[TFST_HOP_ERROR_MAX];

  /* TLS=yes: frames go through `tls` once tls_up; never plaintext. */
  gboolean tls_required;
  gboolean tls_up;
  TfstTls *tls;

  gboolean got_hello;
  guint32 peer_features; /* TFST_FEATURE_* the peer announced in HELLO (ours only) */
  gboolean room_wanted;  /* hop_room_cb once `out` drains (tfst_hop_want_room) */
  gboolean got_iam;
  gboolean told; /* child side: our TELL went out on this hop */
  gboolean up;
  gint64 up_since_us;
  TfstTellMsg tell; /* a child's subtree as it last told us, what we accepted of it */
  /* A parent hop: what its last TELL_OK said of the chain above it (labels
   * and links, the forwards its endpoint proxies serve: empty from a peer
   * that does not announce them), and whether it is rooted. */
  TfstTellMsg above;
  /* A parent hop's place in the order of preference: the connector's index
   * in [Parent] Connect=, or for an accepted parent the order it came up. */
  guint preference;
  gint64 usable_since_us; /* a parent hop: up and rooted since, 0: not */
  /* Its last TELL (cut to MaxTellEntries=) when we refused part of it, to
   * check again once another hop releases a label or network; else empty. */
  TfstTellMsg claims;

  GHashTable *streams; /* id -> TfstEnd */
  guint32 next_id;
  /* A child's share (MaxSessionsPerChild=, OpenRate=): its sessions, and a
   * token bucket of opens refilled at OpenRate per second. */
  guint child_sessions;
  double open_tokens;
  gint64 open_refill_us; /* 0: bucket not used yet, full */
  guint64 window_total;

  guint64 ping_sent_us; /* 0: none outstanding */
  gint64 srtt_us;
  guint64 bytes_read; /* whole frames, for DataFlow() */
  guint64 bytes_written;
  gboolean closing;
  gboolean dispatching; /* inside its own I/O callback: free on return */
  GList link;           /* in engine->hops */
};

typedef enum {
  TFST_LISTEN_CHILDREN,
  TFST_LISTEN_PARENT,
  TFST_LISTEN_FORWARD,
} TfstListenKind;

struct TfstListener {
  TfstEngine *engine;
  TfstListenKind kind;
  gboolean activated; /* the fd came from systemd */
  const TfstForwardConf *forward;
  int fd;
  TfstSockAddr addr;
  sd_event_source *io;
  sd_event_source *retry; /* re-enable after EMFILE */
  /* Forward listeners: the session keepalive settings the listening socket
   * carries, which the sockets it accepts inherit (tfst_socket_tune_accepted),
   * and how many more times accept must run dry before the queue holds only
   * sockets made after that. */
  gboolean tuned;
  guint stale_drains;
  TfstKeepaliveConf tuned_ka;
};

struct TfstConnector {
  TfstEngine *engine;
  TfstHopDirection direction;
  const TfstHopConf *conf;
  TfstSockAddr addr;
  TfstHop *hop;
  sd_event_source *timer;
  guint attempts;
  guint16 next_sport;
  guint index; /* its place in Connect=: the order of preference */
  /* LABEL@ in Connect=: the label the peer must announce (the
   * configuration's string), NULL: any. */
  const char *expect_label;
  /* Its hop was up and rooted once: a parent hop that comes back after
   * that waits for FailbackDelay= before it takes new sessions again. */
  gboolean was_usable;
  /* For the Parent/Children/Hops properties. */
  gboolean was_up;
  guint reconnects;
  gint64 changed_rt;                   /* CLOCK_REALTIME of the last up/down */
  char last_label[TFST_LABEL_MAX + 1]; /* the peer's, once a handshake completed */
  /* Why the last hop or attempt ended ("ECONNREFUSED: Connection refused",
   * a TLS alert, a handshake refusal), and when the next attempt is due
   * (CLOCK_REALTIME, 0: none scheduled). */
  char last_error[TFST_HOP_ERROR_MAX];
  gint64 next_attempt_rt;
  /* TLS session resumption: the last ticket, valid only with the
   * credentials it was issued under (a reload starts afresh). */
  GBytes *tls_resume;
  TfstTlsCreds *tls_resume_creds;
};

/* What a hop hands to whoever consumes it, installed by the engine
 * (engine->hop_cb): the hop runs the handshake, PING/PONG and GOAWAY itself
 * and knows nothing above it. */
typedef struct {
  /* Every other frame once the hop is up (the sessions' frames). */
  void (*frame_cb)(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload);
  /* TELL and TELL_OK as received, during the handshake and after; WHO
   * (payload NULL) asks for our own TELL. */
  void (*tell_cb)(TfstHop *hop, guint8 type, const guint8 *payload, guint32 len);
  /* The handshake completed (the first TELL or TELL_OK was applied). */
  void (*up_cb)(TfstHop *hop);
  /* The hop is closing, its streams still attached: err for their resets. */
  void (*lost_cb)(TfstHop *hop, int err);
  /* The hop is gone from engine->hops, down and its socket closed. */
  void (*down_cb)(TfstHop *hop, gboolean was_up);
  /* Output drained below TFST_HOP_OUT_LOW: an end that waited may send. */
  void (*room_cb)(TfstEnd *end);
  /* EVENT (from a child) and EVENT_ACK (from a parent) on a hop that is up
   * and whose peer announced TFST_FEATURE_EVENTS; payload shape checked. */
  void (*event_cb)(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload);
  /* The same drain for whoever asked with tfst_hop_want_room() (events). */
  void (*hop_room_cb)(TfstHop *hop);
  /* Zero copy: a DATA frame of which only the first len payload bytes were
   * read (at payload).  TRUE when the consumer took them and wants the rest
   * as pieces through piece_cb; FALSE: the frame is read whole as usual. */
  gboolean (*splice_cb)(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload, guint32 len);
  /* A piece of such a payload, in a pipe the consumer now owns, or (no pipe
   * free) len bytes at data. */
  void (*piece_cb)(TfstHop *hop, guint32 session, TfstPipe *pipe, const guint8 *data, gsize len);
} TfstHopCallbacks;

/* Signals a peer can trigger: at most TFST_NOTIFY_PER_SECOND a second,
 * the rest counted and logged (tfst-notify.c). */
typedef struct {
  gint64 window_us;
  guint events;
  guint dropped;
} TfstNotifyLimit;

/* A peer that connected to us (Listen=), remembered by label after its hop
 * went away so tools still see it, down, and its reconnects. */
typedef struct {
  TfstHopDirection direction;
  TfstSockAddr addr;
  gboolean up;
  guint reconnects;
  gint64 changed_rt;
  char last_error[TFST_HOP_ERROR_MAX]; /* why its last hop closed */
  guint preference;                    /* a parent's, as its hop had it */
} TfstPeerRecord;

/* A peer whose hop to us closed before its handshake completed (a TLS
 * alert, a refused label, a protocol error, a port scan): the last few, by
 * address, so tools say why a child that tries to connect never shows up. */
typedef struct {
  TfstHopDirection direction;
  TfstSockAddr addr;
  char label[TFST_LABEL_MAX + 1]; /* the one its HELLO claimed, "" before */
  guint attempts;                 /* closes from this address in a row */
  gint64 changed_rt;
  char last_error[TFST_HOP_ERROR_MAX];
} TfstRefusal;
/* Enough for the children an administrator is looking for; a peer trying
 * many addresses only pushes out the oldest. */
#define TFST_REFUSALS_MAX 16

/* errno values 1 ... TFST_ERRNO_SLOTS-1 are Linux's named ones (EHWPOISON,
 * 133, is the last); tfst_counters_errno_is_known() tells which have a name. */
#define TFST_ERRNO_SLOTS 134

/* Counters since the last ClearStatistics(); only the data-plane thread
 * touches them, so they need no atomics. */
typedef struct {
  guint64 opened;
  guint64 closed;
  guint64 failed;
  guint64 refused_limit;
  guint64 aborted_close;
  guint64 idle_timeout;
  guint64 retransmit_timeout;
  guint64 keepalive_dead;
  guint64 reset;
  guint64 hop_reconnects;
  guint64 handshake_failures;
  guint64 refused_child_limit; /* MaxSessionsPerChild= (also in refused_limit) */
  guint64 refused_open_rate;   /* OpenRate= (also in refused_limit) */
  /* By errno: a fixed table of the values that have a name, slot 0 for any
   * other, so a peer sending every u32 in OPEN_FAIL cannot grow it. */
  guint64 failed_by_errno[TFST_ERRNO_SLOTS];
  guint64 bytes_base[2][2]; /* byte totals at the clear, [upcall][to_client] */
  gint64 cleared_rt;
} TfstCounters;

/* Session log lines a peer can trigger, each rate limited on its own. */
typedef enum {
  TFST_SESSION_LOG_LIMIT,       /* MaxSessions= */
  TFST_SESSION_LOG_CHILD_LIMIT, /* MaxSessionsPerChild= */
  TFST_SESSION_LOG_OPEN_RATE,   /* OpenRate= */
  TFST_SESSION_LOG_REFUSED,     /* a client with no hop to take it */
  TFST_SESSION_LOG_TARGET,      /* the target connect failed */
  TFST_SESSION_LOG_NO_TARGET,   /* an OPEN for a forward with no Target= here */
  TFST_SESSION_LOG_OPENFAIL,    /* OPEN_FAIL came back to the accepting proxy */
  TFST_SESSION_LOG_RESET,       /* a session reset */
  TFST_SESSION_LOG_TIMEOUT,     /* not opened in time, close or idle timeout */
  TFST_SESSION_LOG_KINDS,
} TfstSessionLogKind;

typedef enum {
  TFST_CMD_STOP,
  TFST_CMD_RELOAD,
  TFST_CMD_BLOCK,
  TFST_CMD_QUERY,
} TfstCommandType;

typedef struct {
  TfstCommandType type;
  TfstConfig *config; /* RELOAD: the new configuration, owned */
  GTask *task;        /* QUERY: task data is a TfstQuery */
} TfstCommand;

struct TfstEngine {
  TfstConfig *config;
  TfstLog *log;
  sd_event *event;
  GThread *thread;
  int wake_fd;
  GAsyncQueue *commands; /* TfstCommand from the control plane */
  GPtrArray *activated;  /* TfstActivatedFd while listeners are set up */
  sd_event_source *wake;
  sd_event_source *status_timer;
  int exit_status;
  /* engine_teardown() runs: the hops it closes are neither refused peers
   * nor failed handshakes, and nobody is left to notify. */
  gboolean stopping;

  const TfstHopCallbacks *hop_cb;
  /* The router's verdict: whether forward listeners may accept (a gateway
   * proxy whose chain is rooted). */
  void (*accepting_cb)(TfstEngine *e, gboolean on);

  GPtrArray *listeners;  /* TfstListener */
  GPtrArray *connectors; /* TfstConnector */
  GQueue hops;           /* every TfstHop, up or not */
  /* The parent hop new upcall sessions go to (tfst_router_parent_for()):
   * the most preferred one that is up and rooted, or after a failover the
   * one that took over until FailbackDelay= has passed. NULL: none. */
  TfstHop *active_parent;
  /* The parent hops that are up (tfst_router_hop_up/down): the choice and
   * the checks against labels above walk these, not every hop. */
  GPtrArray *parent_hops;
  sd_event_source *failback_timer;
  gboolean parents_ever_active; /* a parent hop was active once: the next change is a switch */
  guint accepted_parents;       /* accepted parent hops so far (their preference) */

  GQueue sessions;
  TfstPipePool pipes; /* zero copy: pipes of the transfers in flight */
  int sess_epfd;      /* every session socket; one sd-event source */
  sd_event_source *sess_src;
  gboolean dispatching; /* inside tfst_session_dispatch_cb() */
  GQueue graveyard;     /* sessions released during that batch */
  guint64 next_session_id;
  /* tfst-session.c: one window per kind of line a peer can trigger */
  TfstRatelimit session_rl[TFST_SESSION_LOG_KINDS];
  GHashTable *learned; /* endpoint IP string -> gateway proxy label */
  char *chain_text;    /* last logged chain */
  /* tfst-router.c: TELL up and the chain line go out at most once per
   * TFST_ANNOUNCE_INTERVAL_US, with the state at that time. */
  sd_event_source *announce_timer;
  gint64 announced_us;
  gboolean tell_parent_due;
  gboolean log_chain_due;
  gboolean recheck_due;          /* a label or network was released: see hop->claims */
  TfstRatelimit rl_claim;        /* a child's entry or OPEN refused */
  TfstRatelimit rl_tell_limit;   /* TELL over MaxTellEntries=, subtree left out */
  TfstRatelimit rl_tell_rx;      /* "TELL command received" */
  TfstRatelimit rl_announce_now; /* a new child's TELL up at once */
  char *status_text;             /* last STATUS= sent */

  TfstCounters stats;
  guint64 bytes_gone[2][2]; /* bytes of freed sessions, [upcall][to_client] */
  guint64 total_opened;     /* never cleared: SessionsChanged deltas */
  guint64 total_ended;
  GHashTable *peers; /* label -> TfstPeerRecord, peers that connected to us */
  GQueue refusals;   /* TfstRefusal, newest first, at most TFST_REFUSALS_MAX */

  /* Control-plane notification (see tfst_engine_set_observer) */
  const TfstEngineObserver *observer;
  gpointer observer_data;
  gint changed_pending; /* atomic: a "changed" call is queued */
  /* tfst-notify.c: when the last "changed" went to the main context, and
   * the timer that sends a later one (armed while deferred). */
  gint64 changed_posted_us;
  gboolean changed_deferred;
  sd_event_source *changed_timer;
  TfstNotifyLimit handshake_limit;
  TfstNotifyLimit refused_limit;

  /* Hops accepted but not up yet (MaxPendingHops=), by source IP too. */
  guint pending_hops;
  guint pending_peak;
  gsize pending_in_bytes;      /* their input buffers beyond TFST_HOP_IN_INITIAL */
  GHashTable *pending_by_addr; /* IP string -> GUINT count */
  /* Journal lines a peer of a hop can trigger (tfst-hop.c, accept). */
  TfstRatelimit rl_protocol;
  TfstRatelimit rl_hop_closed;
  TfstRatelimit rl_tls;
  TfstRatelimit rl_pending;
  TfstRatelimit rl_accept;
  TfstRatelimit rl_takeover;

  TfstEvents *events; /* tfst-events.c: [Events] sections, streams passing */
};

/* tfst-engine.c */
TfstEngine *tfst_engine_new_state(TfstConfig *config, TfstLog *log);

/* tfst-socket.c */
int tfst_socket_tune(int fd, const TfstKeepaliveConf *ka);
int tfst_socket_limit_unsent(int fd, guint bytes);
/* The same for a socket we made ourselves and never tuned before. */
int tfst_socket_tune_new(int fd, const TfstKeepaliveConf *ka);
/* tfst_socket_tune() for a socket `l` accepted, skipped where it inherited
 * the same settings from `l`. */
void tfst_socket_tune_accepted(TfstListener *l, int fd, const TfstKeepaliveConf *ka);
/* bind(), and when the address is not on this host (EADDRNOTAVAIL) again
 * with IP_FREEBIND: 0 or -errno.  Listeners only: a connection from a
 * missing address fails anyway. */
int tfst_socket_bind(int fd, const TfstSockAddr *addr);
int tfst_socket_listen(const TfstSockAddr *addr);
int tfst_socket_connect(const TfstSockAddr *addr, const TfstHopConf *local, guint16 *next_sport);
int tfst_socket_error(int fd);
void tfst_socket_reset_close(int fd);
gboolean tfst_socket_original_dst(int fd, int family, TfstSockAddr *out);

/* tfst-hop.c */
TfstHop *tfst_hop_new(TfstEngine *e, TfstHopDirection dir, int fd, TfstConnector *c);
void tfst_hop_close(TfstHop *hop, int err, const char *why);
void tfst_hop_send(TfstHop *hop, const guint8 *frame, gsize len);
void tfst_hop_send_u32(TfstHop *hop, guint8 type, guint32 session, guint32 v);
guint8 *tfst_hop_reserve_data(TfstHop *hop, gsize payload);
void tfst_hop_commit_data(TfstHop *hop, guint32 session, gsize payload);
void tfst_hop_send_data(TfstHop *hop, guint32 session, const guint8 *data, gsize len);
gboolean tfst_hop_has_room(const TfstHop *hop);
gboolean tfst_hop_zero_copy(const TfstHop *hop);
gboolean tfst_hop_tx_idle(const TfstHop *hop);
void tfst_hop_send_pipe(TfstHop *hop, guint32 session, TfstPipe *pipe);
void tfst_hop_block(TfstHop *hop, TfstEnd *end);
/* Up, not closing, and the peer announced EVENT/EVENT_ACK in its HELLO. */
gboolean tfst_hop_speaks_events(const TfstHop *hop);
/* hop_room_cb(hop) once its output drains below TFST_HOP_OUT_LOW. */
void tfst_hop_want_room(TfstHop *hop);
guint32 tfst_hop_alloc_id(TfstHop *hop);
/* The [Parent] or [Children] settings the hop was made with. */
const TfstHopConf *tfst_hop_conf(const TfstHop *hop);
/* Best effort, when the hop is about to be closed: GOAWAY through TLS
 * when the hop uses it. */
void tfst_hop_send_now(TfstHop *hop, const guint8 *frame, gsize len);
void tfst_hop_protocol_error(TfstHop *hop, const char *format, ...) G_GNUC_PRINTF(2, 3);
void tfst_hop_arm_ping(TfstHop *hop);
/* "ECONNREFUSED: why", or just why when err has no name: a hop's close
 * reason and a connector's last error. */
void tfst_hop_error_text(char *buf, gsize len, int err, const char *why);
/* Whether the listener may take one more hop from `peer` (MaxPendingHops=,
 * MaxPendingHopsPerAddress=); logs the refusal when not. */
gboolean tfst_hop_admit(TfstEngine *e, const TfstHopConf *conf, const TfstSockAddr *peer);

/* tfst-connector.c: opens a hop, reconnecting with backoff */
void tfst_connector_schedule(TfstConnector *c);

/* tfst-session.c */
void tfst_session_accept(TfstEngine *e, TfstListener *l, int fd, const TfstSockAddr *peer);
/* The hop callbacks the engine installs for the sessions. */
void tfst_session_frame_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload);
void tfst_session_lost_cb(TfstHop *hop, int err);
void tfst_session_room_cb(TfstEnd *end);
gboolean tfst_session_splice_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload,
                                guint32 len);
void tfst_session_piece_cb(TfstHop *hop, guint32 id, TfstPipe *pipe, const guint8 *data, gsize len);
void tfst_session_abort(TfstSession *s, int err, TfstEnd *origin);
int tfst_session_dispatch_cb(sd_event_source *src, int fd, guint32 revents, void *userdata);

/* tfst-inspect-hops.c: the hops as the snapshot shows them, parents in
 * order of preference.  Tuples: the Parent/Children a(ssqbtuu) of one
 * direction; dicts: the Hops aa{sv}, parents first. */
GVariant *tfst_inspect_hops_tuples(TfstEngine *e, TfstHopDirection dir);
GVariant *tfst_inspect_hops_dicts(TfstEngine *e);

/* tfst-parents.c: which parent hop new upcall sessions go to */
/* The parent hop a new upcall session for `forward` goes to (NULL: any
 * forward), or NULL when no parent hop is up and rooted. */
TfstHop *tfst_parents_for(TfstEngine *e, const char *forward);
/* Where a session goes that `failed` could not open: the best other
 * parent hop, NULL when there is none. */
TfstHop *tfst_parents_other(TfstEngine *e, const char *forward, const TfstHop *failed);
/* Whether any parent hop is up and its chain reaches an endpoint proxy. */
gboolean tfst_parents_rooted(TfstEngine *e);
/* A parent hop's part in the choice: "active", "standby" or "down". */
const char *tfst_parents_role(TfstEngine *e, const TfstHop *hop);
/* After any change of a parent hop (up, TELL_OK, closing): failover at
 * once, failback after FailbackDelay=; `why` words a failover. */
void tfst_parents_update(TfstEngine *e, const char *why);
void tfst_parents_free(TfstEngine *e);

/* tfst-router.c */
/* Every link of the chain graph known here, sorted and without duplicates
 * (TfstLinkEntry); use it before the loop runs again. */
GArray *tfst_router_links(TfstEngine *e);
void tfst_router_hop_up(TfstHop *hop);
void tfst_router_hop_down(TfstHop *hop);
/* The hop callback for TELL, TELL_OK and WHO (see TfstHopCallbacks). */
void tfst_router_tell_cb(TfstHop *hop, guint8 type, const guint8 *payload, guint32 len);
void tfst_router_send_tell(TfstHop *hop);
TfstHop *tfst_router_child_for(TfstEngine *e, const char *label);
/* The same, other than `except` (a hop a session could not open on). */
TfstHop *tfst_router_child_except(TfstEngine *e, const char *label, const TfstHop *except);
const char *tfst_router_downcall_route(TfstEngine *e, const TfstForwardConf *f,
                                       const TfstSockAddr *dest);
void tfst_router_learn(TfstEngine *e, const TfstSockAddr *client, const char *label);
void tfst_router_announce(TfstEngine *e);
void tfst_router_init(TfstEngine *e);
/* Takes next's [Children] Allow*= and MaxTellEntries= (reload). */
void tfst_router_reload_trust(TfstEngine *e, TfstConfig *next);
void tfst_router_free(TfstEngine *e);
/* FALSE: the OPEN that came up from a child claims an ORIGIN the child may
 * not use (answer OPEN_FAIL EACCES).  At the endpoint proxy, also learns
 * CLIENT when it is consistent with the hop. */
gboolean tfst_router_check_open(TfstHop *hop, const TfstOpenMsg *m);
/* Why ORIGIN may not be claimed in an OPEN or EVENT from `hop`, NULL
 * when it may. */
const char *tfst_router_origin_refusal(TfstHop *hop, const char *origin);
/* Whether ORIGIN is in the subtree `hop` told us: an EVENT needs its way
 * back (the ack goes down to the child whose subtree has ORIGIN). */
gboolean tfst_router_event_origin_known(TfstHop *hop, const char *origin);
void tfst_engine_update_status(TfstEngine *e);
/* tfst-status.c: the STATUS= sentence (without "STATUS="), newly allocated */
char *tfst_status_text(TfstEngine *e);

/* tfst-notify.c: change notification to the control plane (a leaf) */
void tfst_notify_changed(TfstEngine *e);
/* Sends a "changed" still deferred and drops its timer (teardown). */
void tfst_notify_flush(TfstEngine *e);
void tfst_notify_handshake(TfstEngine *e, gboolean ok, const char *label, const char *reason);
/* kind: "failover" or "failback"; from/to: labels, "" for none. */
/* limit: "max-sessions", "max-sessions-per-child" or "open-rate" */
void tfst_notify_session_refused(TfstEngine *e, const char *label, const char *limit,
                                 const char *reason);
void tfst_notify_parent_switched(TfstEngine *e, const char *kind, const char *from, const char *to,
                                 const char *reason);

/* tfst-counters.c: counters bumped on the data path (a leaf) */
gboolean tfst_counters_errno_is_known(guint32 err);
void tfst_counters_session_ended(TfstSession *s, int err, TfstEnd *origin);
void tfst_counters_session_freed(TfstSession *s);
void tfst_counters_hop_up(TfstHop *hop);
void tfst_counters_hop_down(TfstHop *hop);
/* An accepted hop closed before its handshake completed. */
void tfst_counters_hop_refused(TfstHop *hop);
void tfst_counters_init(TfstEngine *e);
void tfst_counters_clear(TfstEngine *e);
void tfst_counters_free(TfstEngine *e);
/* Bytes carried since the instance started, [upcall][to_client]. */
void tfst_counters_byte_totals(TfstEngine *e, guint64 out[2][2]);

GArray *tfst_router_chain(TfstEngine *e); /* TfstChainItem, sorted */

typedef struct {
  int depth;
  const char *label;
} TfstChainItem;

/* tfst-sockets.c: applies the keepalive settings of the configuration to
 * every open hop and session socket. */
void tfst_sockets_retune(TfstEngine *e);

/* tfst-events.c: the event sink (docs/events.md) */
/* Makes a sink per [Events] section: inputs bound (or taken from
 * e->activated), spools opened, targets set up; fails only on a Listen=
 * that cannot be bound. */
gboolean tfst_events_start(TfstEngine *e, GError **error);
void tfst_events_free(TfstEngine *e);
void tfst_events_frame_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload);
void tfst_events_hop_room_cb(TfstHop *hop);
void tfst_events_hop_down(TfstHop *hop);
/* After every decision on e->active_parent (tfst_parents_update). */
void tfst_events_parents_changed(TfstEngine *e);
/* Spool keys in place; other changes are added to `restart`. */
void tfst_events_reload(TfstEngine *e, TfstConfig *next, GPtrArray *restart);

/* tfst-reload.c */
void tfst_reload_apply(TfstEngine *e, TfstConfig *next);
