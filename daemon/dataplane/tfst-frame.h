/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfst wire protocol v1: frame header and message codecs.
 *
 * Pure functions over byte buffers, no allocation on the DATA path, so the
 * data plane can call them per frame.  Every decoder validates every field it
 * reads and reports a distinct TfstFrameStatus; docs/protocol.md is the
 * normative description.
 */
#pragma once

#include "tfst-addr.h"
#include "tfst-label.h"

#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define TFST_PROTO_VERSION     1
#define TFST_FRAME_HEADER_SIZE 12
/* Upper bound on any payload; large enough for 64 KiB DATA chunks and a TELL
 * describing a big chain, small enough that a hostile length cannot make us
 * allocate much. */
#define TFST_FRAME_MAX_PAYLOAD (256u * 1024u)
#define TFST_HELLO_MAGIC       "TFST"

typedef enum {
  TFST_FRAME_HELLO = 1,
  TFST_FRAME_WHO = 2,
  TFST_FRAME_IAM = 3,
  TFST_FRAME_TELL = 4,
  TFST_FRAME_TELL_OK = 5,
  TFST_FRAME_OPEN = 6,
  TFST_FRAME_OPEN_OK = 7,
  TFST_FRAME_OPEN_FAIL = 8,
  TFST_FRAME_DATA = 9,
  TFST_FRAME_FIN = 10,
  TFST_FRAME_RST = 11,
  TFST_FRAME_CREDIT = 12,
  TFST_FRAME_PING = 13,
  TFST_FRAME_PONG = 14,
  TFST_FRAME_GOAWAY = 15,
  /* Events (docs/events.md): only between peers that both announced
   * TFST_FEATURE_EVENTS in HELLO; an older peer would refuse the type. */
  TFST_FRAME_EVENT = 16,     /* child -> parent: a batch of spooled events */
  TFST_FRAME_EVENT_ACK = 17, /* parent -> child: delivered up to a sequence number */
} TfstFrameType;
#define TFST_FRAME_TYPE_LAST TFST_FRAME_EVENT_ACK

/* Decoder results: 0 or one of these negative codes. */
typedef enum {
  TFST_FRAME_OK = 0,
  TFST_FRAME_E_TRUNCATED = -1, /* more bytes needed: not an error on a stream */
  TFST_FRAME_E_VERSION = -2,
  TFST_FRAME_E_TYPE = -3,
  TFST_FRAME_E_OVERSIZE = -4,
  TFST_FRAME_E_FLAGS = -5,
  TFST_FRAME_E_SESSION = -6,
  TFST_FRAME_E_PAYLOAD = -7,
  TFST_FRAME_E_FIELD = -8,
  TFST_FRAME_E_MAGIC = -9,
  TFST_FRAME_E_LABEL = -10,
  TFST_FRAME_E_ADDRESS = -11,
  TFST_FRAME_E_MISSING = -12,
  TFST_FRAME_E_SPACE = -13, /* encoder: output buffer too small */
} TfstFrameStatus;

typedef struct {
  guint8 version;
  guint8 type;
  guint16 flags;
  guint32 session;
  guint32 length;
} TfstFrameHeader;

/* TLV tags inside control payloads.  Unknown tags are skipped so a newer
 * peer can add fields without breaking v1. */
typedef enum {
  TFST_TLV_LABEL = 1,
  TFST_TLV_ROLE = 2,
  TFST_TLV_CHAIN = 3,     /* depth u8, label */
  TFST_TLV_NETWORK = 4,   /* owner-label-len u8, owner label, family u8, prefix u8, addr */
  TFST_TLV_FORWARD = 5,   /* name (OPEN) or owner-label-len u8, owner, name (TELL) */
  TFST_TLV_CLIENT = 6,    /* address */
  TFST_TLV_DEST = 7,      /* address */
  TFST_TLV_ORIGIN = 8,    /* label */
  TFST_TLV_ROUTE = 9,     /* label */
  TFST_TLV_WINDOW = 10,   /* u32 */
  TFST_TLV_TEXT = 11,     /* free text, GOAWAY reason */
  TFST_TLV_ROOTED = 12,   /* TELL_OK: u8 1 when the sender's chain reaches an endpoint proxy */
  TFST_TLV_LINK = 13,     /* TELL, TELL_OK: upper-label-len u8, upper label, lower label */
  TFST_TLV_FEATURES = 14, /* HELLO: u32 bit mask of TFST_FEATURE_*; absent: 0 */
} TfstTlvTag;

/* HELLO FEATURES bits: what the sender understands beyond version 1. */
#define TFST_FEATURE_EVENTS 0x1u /* EVENT and EVENT_ACK frames */
#define TFST_FEATURES_OURS  TFST_FEATURE_EVENTS

typedef struct {
  guint8 min_version;
  guint8 max_version;
  guint8 role;
  char label[TFST_LABEL_MAX + 1];
  guint32 features; /* FEATURES, 0 when absent */
} TfstHelloMsg;

/* EVENT and EVENT_ACK name the event stream: the collecting end that
 * spooled the events (origin), the [Events NAME] section, and the spool's
 * epoch (tfst_spool_epoch()). */
typedef struct {
  char origin[TFST_LABEL_MAX + 1];
  char sink[TFST_LABEL_MAX + 1];
  guint64 epoch;
} TfstEventStream;

/* EVENT: base is the lowest sequence number the origin still holds (what
 * it has not seen acknowledged), first the sequence number of the first
 * event of the batch; the events follow as (len u32, bytes), at least
 * one, each 1 ... TFST_EVENT_MAX bytes.  Decoding checks the whole batch;
 * tfst_frame_event_next() then walks it. */
typedef struct {
  TfstEventStream stream;
  guint64 base;
  guint64 first;
  guint32 count;
  const guint8 *events; /* points into the payload */
  gsize events_len;
} TfstEventMsg;

/* EVENT_ACK: every event up to and including `acked` was delivered (0:
 * none yet); status 0 while the target takes events, else the errno of
 * why it does not (ENOTCONN, ECONNREFUSED..., ENOENT: no Target= for this
 * sink there), so the origin can show it and back off. */
typedef struct {
  TfstEventStream stream;
  guint64 acked;
  guint32 status;
} TfstEventAckMsg;

typedef struct {
  char forward[TFST_LABEL_MAX + 1];
  char origin[TFST_LABEL_MAX + 1];
  char route[TFST_LABEL_MAX + 1]; /* empty: toward the parent */
  TfstSockAddr client;            /* sa_family 0 when absent */
  TfstSockAddr dest;              /* sa_family 0 when absent */
  guint32 window;
} TfstOpenMsg;

typedef struct {
  guint8 depth;
  char label[TFST_LABEL_MAX + 1];
} TfstChainEntry;

typedef struct {
  char owner[TFST_LABEL_MAX + 1];
  char name[TFST_LABEL_MAX + 1];
} TfstForwardEntry;

/* TELL (child → parent: itself and everything below) and TELL_OK
 * (parent → child: itself and everything above).  Arrays of the entry types
 * above; owned by the struct, freed with tfst_tell_msg_clear(). */
/* One edge of the chain graph: `lower` has a hop to its parent `upper`.
 * Several parents per component make the chain a graph; CHAIN depths alone
 * cannot say which label hangs below which. */
typedef struct {
  char upper[TFST_LABEL_MAX + 1];
  char lower[TFST_LABEL_MAX + 1];
} TfstLinkEntry;

typedef struct {
  char label[TFST_LABEL_MAX + 1];
  GArray *chain;    /* TfstChainEntry */
  GArray *links;    /* TfstLinkEntry */
  GArray *networks; /* TfstNetworkEntry */
  GArray *forwards; /* TfstForwardEntry */
  gboolean rooted;  /* TELL_OK only */
} TfstTellMsg;

const char *tfst_frame_strerror(int status);
const char *tfst_frame_type_name(guint8 type);
gboolean tfst_frame_type_is_session(guint8 type);

int tfst_frame_header_decode(const guint8 *buf, gsize len, TfstFrameHeader *out);
int tfst_frame_payload_check(const TfstFrameHeader *h, const guint8 *payload);
void tfst_frame_header_encode(guint8 *buf, guint8 type, guint32 session, guint32 length);

/* OPEN's WINDOW and OPEN_OK's window: 1 ... 2^31-1. */
gboolean tfst_frame_window_is_valid(guint32 window);
int tfst_frame_decode_u32(const TfstFrameHeader *h, const guint8 *p, guint32 *out);
guint64 tfst_frame_decode_u64(const guint8 *p);

/* Encoders write one whole frame (header included) into buf and return its
 * size, or TFST_FRAME_E_SPACE / TFST_FRAME_E_LABEL. */
gssize tfst_frame_encode_hello(guint8 *buf, gsize cap, guint8 role, const char *label,
                               guint32 features);
gssize tfst_frame_encode_empty(guint8 *buf, gsize cap, guint8 type, guint32 session);
gssize tfst_frame_encode_u32(guint8 *buf, gsize cap, guint8 type, guint32 session, guint32 v);
gssize tfst_frame_encode_u64(guint8 *buf, gsize cap, guint8 type, guint64 v);
gssize tfst_frame_encode_iam(guint8 *buf, gsize cap, const char *label);
gssize tfst_frame_encode_open(guint8 *buf, gsize cap, guint32 session, const TfstOpenMsg *m);
gssize tfst_frame_encode_goaway(guint8 *buf, gsize cap, guint32 reason, const char *text);
GByteArray *tfst_frame_encode_tell(guint8 type, const TfstTellMsg *m);
gssize tfst_frame_encode_event_ack(guint8 *buf, gsize cap, const TfstEventAckMsg *m);
/* EVENT is built in place: begin writes the header and stream fields (the
 * frame's length is fixed by end), add appends one event while it fits in
 * cap and TFST_FRAME_MAX_PAYLOAD (else TFST_FRAME_E_SPACE, the frame is
 * unchanged), end returns the frame's size (E_MISSING with no event). */
gssize tfst_frame_event_begin(guint8 *buf, gsize cap, const TfstEventStream *s, guint64 base,
                              guint64 first);
gssize tfst_frame_event_add(guint8 *buf, gsize cap, gsize used, const guint8 *data, gsize len);
gssize tfst_frame_event_end(guint8 *buf, gsize used);

int tfst_frame_decode_hello(const guint8 *p, guint32 len, TfstHelloMsg *out);
int tfst_frame_decode_iam(const guint8 *p, guint32 len, char out_label[TFST_LABEL_MAX + 1]);
int tfst_frame_decode_open(const guint8 *p, guint32 len, TfstOpenMsg *out);
int tfst_frame_decode_tell(const guint8 *p, guint32 len, TfstTellMsg *out);
int tfst_frame_decode_event(const guint8 *p, guint32 len, TfstEventMsg *out);
/* Walks a decoded batch: *off starts at 0; returns FALSE after the last. */
gboolean tfst_frame_event_next(const TfstEventMsg *m, gsize *off, const guint8 **data, gsize *len);
int tfst_frame_decode_event_ack(const guint8 *p, guint32 len, TfstEventAckMsg *out);
int tfst_frame_decode_goaway(const guint8 *p, guint32 len, guint32 *out_reason, char *text,
                             gsize text_cap);

/* tfst-tell-msg.c */
void tfst_tell_msg_init(TfstTellMsg *m);
void tfst_tell_msg_clear(TfstTellMsg *m);
/* Chain, link, network and forward entries of m: how many, and the payload bytes
 * they take in a TELL or TELL_OK (depths do not change it), so a sender can
 * fit several subtrees in one frame. */
guint tfst_tell_msg_entries(const TfstTellMsg *m);
gsize tfst_tell_msg_size(const TfstTellMsg *m);
