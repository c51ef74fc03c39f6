/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfst wire protocol v1 codec; see tfst-frame.h and docs/protocol.md. */
#include "tfst-frame.h"

#include "tfst-config.h"

#include <string.h>

/* Highest role number v1 defines (TFST_ROLE_RELAY in tfst-config.h). */
#define HELLO_ROLE_MAX 3

/* EVENT: two one-byte labels, epoch, base, first, one one-byte event.
 * EVENT_ACK: two labels, epoch, acked, status. */
#define EVENT_STREAM_FIXED    (1 + 1 + 8)
#define EVENT_MIN_PAYLOAD     (EVENT_STREAM_FIXED + 2 + 16 + 4 + 1)
#define EVENT_ACK_MIN_PAYLOAD (EVENT_STREAM_FIXED + 2 + 8 + 4)
#define EVENT_ACK_MAX_PAYLOAD (EVENT_ACK_MIN_PAYLOAD - 2 + 2 * TFST_LABEL_MAX)

static const char *const frame_type_names[] = {
    [TFST_FRAME_HELLO] = "HELLO",
    [TFST_FRAME_WHO] = "WHO",
    [TFST_FRAME_IAM] = "IAM",
    [TFST_FRAME_TELL] = "TELL",
    [TFST_FRAME_TELL_OK] = "TELL_OK",
    [TFST_FRAME_OPEN] = "OPEN",
    [TFST_FRAME_OPEN_OK] = "OPEN_OK",
    [TFST_FRAME_OPEN_FAIL] = "OPEN_FAIL",
    [TFST_FRAME_DATA] = "DATA",
    [TFST_FRAME_FIN] = "FIN",
    [TFST_FRAME_RST] = "RST",
    [TFST_FRAME_CREDIT] = "CREDIT",
    [TFST_FRAME_PING] = "PING",
    [TFST_FRAME_PONG] = "PONG",
    [TFST_FRAME_GOAWAY] = "GOAWAY",
    [TFST_FRAME_EVENT] = "EVENT",
    [TFST_FRAME_EVENT_ACK] = "EVENT_ACK",
};

const char *
tfst_frame_type_name(guint8 type)
{
  if (type == 0 || type > TFST_FRAME_TYPE_LAST)
    return "UNKNOWN";
  return frame_type_names[type];
}

const char *
tfst_frame_strerror(int status)
{
  switch ((TfstFrameStatus)status) {
    case TFST_FRAME_OK:
      return "ok";
    case TFST_FRAME_E_TRUNCATED:
      return "truncated frame";
    case TFST_FRAME_E_VERSION:
      return "unsupported protocol version";
    case TFST_FRAME_E_TYPE:
      return "unknown frame type";
    case TFST_FRAME_E_OVERSIZE:
      return "frame length exceeds maximum";
    case TFST_FRAME_E_FLAGS:
      return "reserved flag bits set";
    case TFST_FRAME_E_SESSION:
      return "session id not valid for this frame type";
    case TFST_FRAME_E_PAYLOAD:
      return "payload length wrong for this frame type";
    case TFST_FRAME_E_FIELD:
      return "malformed field in payload";
    case TFST_FRAME_E_MAGIC:
      return "peer does not speak the tfst protocol (bad hello magic)";
    case TFST_FRAME_E_LABEL:
      return "invalid label";
    case TFST_FRAME_E_ADDRESS:
      return "invalid address field";
    case TFST_FRAME_E_MISSING:
      return "required field missing";
    case TFST_FRAME_E_SPACE:
      return "output buffer too small";
  }
  return "unknown frame error";
}

gboolean
tfst_frame_type_is_session(guint8 type)
{
  switch (type) {
    case TFST_FRAME_OPEN:
    case TFST_FRAME_OPEN_OK:
    case TFST_FRAME_OPEN_FAIL:
    case TFST_FRAME_DATA:
    case TFST_FRAME_FIN:
    case TFST_FRAME_RST:
    case TFST_FRAME_CREDIT:
      return TRUE;
    default:
      return FALSE;
  }
}

static inline guint16
get_u16(const guint8 *p)
{
  return (guint16)(p[0] << 8 | p[1]);
}

static inline guint32
get_u32(const guint8 *p)
{
  return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static inline void
put_u16(guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static inline void
put_u32(guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

int
tfst_frame_header_decode(const guint8 *buf, gsize len, TfstFrameHeader *out)
{
  TfstFrameHeader h;

  if (len < TFST_FRAME_HEADER_SIZE)
    return TFST_FRAME_E_TRUNCATED;
  h.version = buf[0];
  h.type = buf[1];
  h.flags = get_u16(buf + 2);
  h.session = get_u32(buf + 4);
  h.length = get_u32(buf + 8);

  if (h.version != TFST_PROTO_VERSION)
    return TFST_FRAME_E_VERSION;
  if (h.type == 0 || h.type > TFST_FRAME_TYPE_LAST)
    return TFST_FRAME_E_TYPE;
  if (h.length > TFST_FRAME_MAX_PAYLOAD)
    return TFST_FRAME_E_OVERSIZE;
  if (h.flags != 0)
    return TFST_FRAME_E_FLAGS;
  if (tfst_frame_type_is_session(h.type) != (h.session != 0))
    return TFST_FRAME_E_SESSION;
  *out = h;
  return TFST_FRAME_OK;
}

/* A send window is a signed 32-bit quantity at both ends (a CREDIT that
 * raises it above 2^31-1 is an error), so a window that starts above it, or
 * at 0 where nothing could ever be sent, is malformed. */
gboolean
tfst_frame_window_is_valid(guint32 window)
{
  return window != 0 && window <= G_MAXINT32;
}

/* Shape checks that depend only on type and length; field contents are
 * checked by the per-message decoders. */
int
tfst_frame_payload_check(const TfstFrameHeader *h, const guint8 *payload)
{
  switch (h->type) {
    case TFST_FRAME_WHO:
    case TFST_FRAME_FIN:
      return h->length == 0 ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_OPEN_OK:
      if (h->length != 4)
        return TFST_FRAME_E_PAYLOAD;
      return tfst_frame_window_is_valid(get_u32(payload)) ? TFST_FRAME_OK : TFST_FRAME_E_FIELD;
    case TFST_FRAME_OPEN_FAIL:
    case TFST_FRAME_RST:
      return h->length == 4 ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_CREDIT:
      if (h->length != 4)
        return TFST_FRAME_E_PAYLOAD;
      return get_u32(payload) != 0 ? TFST_FRAME_OK : TFST_FRAME_E_FIELD;
    case TFST_FRAME_PING:
    case TFST_FRAME_PONG:
      return h->length == 8 ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_DATA:
      return h->length > 0 ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_HELLO:
      return h->length >= 6 ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_GOAWAY:
      return h->length >= 4 ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_IAM:
    case TFST_FRAME_TELL:
    case TFST_FRAME_TELL_OK:
    case TFST_FRAME_OPEN:
      return h->length > 0 ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_EVENT:
      return h->length >= EVENT_MIN_PAYLOAD ? TFST_FRAME_OK : TFST_FRAME_E_PAYLOAD;
    case TFST_FRAME_EVENT_ACK:
      return h->length >= EVENT_ACK_MIN_PAYLOAD && h->length <= EVENT_ACK_MAX_PAYLOAD
                 ? TFST_FRAME_OK
                 : TFST_FRAME_E_PAYLOAD;
    default:
      return TFST_FRAME_E_TYPE;
  }
}

void
tfst_frame_header_encode(guint8 *buf, guint8 type, guint32 session, guint32 length)
{
  buf[0] = TFST_PROTO_VERSION;
  buf[1] = type;
  put_u16(buf + 2, 0);
  put_u32(buf + 4, session);
  put_u32(buf + 8, length);
}

int
tfst_frame_decode_u32(const TfstFrameHeader *h, const guint8 *p, guint32 *out)
{
  if (h->length < 4)
    return TFST_FRAME_E_PAYLOAD;
  *out = get_u32(p);
  return TFST_FRAME_OK;
}

guint64
tfst_frame_decode_u64(const guint8 *p)
{
  return (guint64)get_u32(p) << 32 | get_u32(p + 4);
}

/* ---- TLV reading ---- */

typedef struct {
  const guint8 *p;
  gsize left;
} TlvIter;

/* 1: one field returned; 0: end; negative: malformed. */
static int
tlv_next(TlvIter *it, guint8 *tag, const guint8 **val, guint16 *vlen)
{
  if (it->left == 0)
    return 0;
  if (it->left < 3)
    return TFST_FRAME_E_FIELD;
  *tag = it->p[0];
  *vlen = get_u16(it->p + 1);
  if ((gsize)*vlen > it->left - 3)
    return TFST_FRAME_E_FIELD;
  *val = it->p + 3;
  it->p += 3 + *vlen;
  it->left -= 3 + *vlen;
  return 1;
}

static int
read_label(const guint8 *v, gsize n, char out[TFST_LABEL_MAX + 1])
{
  if (n == 0 || n > TFST_LABEL_MAX)
    return TFST_FRAME_E_LABEL;
  memcpy(out, v, n);
  out[n] = '\0';
  /* An embedded NUL would make the C string shorter than the field. */
  if (strlen(out) != n || !tfst_label_is_valid(out))
    return TFST_FRAME_E_LABEL;
  return TFST_FRAME_OK;
}

static int
read_address(const guint8 *v, gsize n, TfstSockAddr *out)
{
  memset(out, 0, sizeof(*out));
  if (n == 7 && v[0] == 4) {
    out->in.sin_family = AF_INET;
    out->in.sin_port = htons(get_u16(v + 1));
    memcpy(&out->in.sin_addr, v + 3, 4);
    return TFST_FRAME_OK;
  }
  if (n == 19 && v[0] == 6) {
    out->in6.sin6_family = AF_INET6;
    out->in6.sin6_port = htons(get_u16(v + 1));
    memcpy(&out->in6.sin6_addr, v + 3, 16);
    return TFST_FRAME_OK;
  }
  return TFST_FRAME_E_ADDRESS;
}

/* An owner label prefixed by its length, used by TELL entries; returns bytes
 * consumed or a negative status. */
static int
read_owner(const guint8 *v, gsize n, char out[TFST_LABEL_MAX + 1])
{
  int r;

  if (n < 1 || (gsize)v[0] + 1 > n)
    return TFST_FRAME_E_FIELD;
  r = read_label(v + 1, v[0], out);
  return r < 0 ? r : v[0] + 1;
}

/* ---- TLV writing ---- */

typedef struct {
  guint8 *buf;
  gsize cap;
  gsize len;
  gboolean overflow;
} Writer;

static void
w_bytes(Writer *w, const void *data, gsize n)
{
  if (w->overflow || n > w->cap - w->len) {
    w->overflow = TRUE;
    return;
  }
  memcpy(w->buf + w->len, data, n);
  w->len += n;
}

static void
w_u8(Writer *w, guint8 v)
{
  w_bytes(w, &v, 1);
}

static void
w_tlv_head(Writer *w, guint8 tag, gsize vlen)
{
  guint8 h[3] = {tag, (vlen >> 8) & 0xff, vlen & 0xff};

  if (vlen > G_MAXUINT16) {
    w->overflow = TRUE;
    return;
  }
  w_bytes(w, h, 3);
}

static void
w_tlv(Writer *w, guint8 tag, const void *v, gsize vlen)
{
  w_tlv_head(w, tag, vlen);
  w_bytes(w, v, vlen);
}

static void
w_tlv_str(Writer *w, guint8 tag, const char *s)
{
  w_tlv(w, tag, s, strlen(s));
}

static void
w_tlv_u32(Writer *w, guint8 tag, guint32 v)
{
  guint8 b[4];

  put_u32(b, v);
  w_tlv(w, tag, b, 4);
}

static void
w_tlv_address(Writer *w, guint8 tag, const TfstSockAddr *a)
{
  guint8 b[19];

  if (a->sa.sa_family == AF_INET) {
    b[0] = 4;
    put_u16(b + 1, ntohs(a->in.sin_port));
    memcpy(b + 3, &a->in.sin_addr, 4);
    w_tlv(w, tag, b, 7);
  } else if (a->sa.sa_family == AF_INET6) {
    b[0] = 6;
    put_u16(b + 1, ntohs(a->in6.sin6_port));
    memcpy(b + 3, &a->in6.sin6_addr, 16);
    w_tlv(w, tag, b, 19);
  }
}

static void
w_tlv_owned(Writer *w, guint8 tag, const char *owner, const void *rest, gsize rest_len)
{
  gsize olen = strlen(owner);

  w_tlv_head(w, tag, 1 + olen + rest_len);
  w_u8(w, (guint8)olen);
  w_bytes(w, owner, olen);
  w_bytes(w, rest, rest_len);
}

/* Starts a frame: reserves the header, filled in by w_finish(). */
static void
w_start(Writer *w, guint8 *buf, gsize cap)
{
  *w = (Writer){.buf = buf, .cap = cap, .len = 0, .overflow = cap < TFST_FRAME_HEADER_SIZE};
  if (!w->overflow)
    w->len = TFST_FRAME_HEADER_SIZE;
}

static gssize
w_finish(Writer *w, guint8 type, guint32 session)
{
  if (w->overflow || w->len - TFST_FRAME_HEADER_SIZE > TFST_FRAME_MAX_PAYLOAD)
    return TFST_FRAME_E_SPACE;
  tfst_frame_header_encode(w->buf, type, session, w->len - TFST_FRAME_HEADER_SIZE);
  return (gssize)w->len;
}

/* ---- messages ---- */

gssize
tfst_frame_encode_empty(guint8 *buf, gsize cap, guint8 type, guint32 session)
{
  Writer w;

  w_start(&w, buf, cap);
  return w_finish(&w, type, session);
}

gssize
tfst_frame_encode_u32(guint8 *buf, gsize cap, guint8 type, guint32 session, guint32 v)
{
  Writer w;
  guint8 b[4];

  put_u32(b, v);
  w_start(&w, buf, cap);
  w_bytes(&w, b, 4);
  return w_finish(&w, type, session);
}

gssize
tfst_frame_encode_u64(guint8 *buf, gsize cap, guint8 type, guint64 v)
{
  Writer w;
  guint8 b[8];

  put_u32(b, v >> 32);
  put_u32(b + 4, v & 0xffffffffu);
  w_start(&w, buf, cap);
  w_bytes(&w, b, 8);
  return w_finish(&w, type, 0);
}

gssize
tfst_frame_encode_hello(guint8 *buf, gsize cap, guint8 role, const char *label, guint32 features)
{
  Writer w;

  if (!tfst_label_is_valid(label))
    return TFST_FRAME_E_LABEL;
  w_start(&w, buf, cap);
  w_bytes(&w, TFST_HELLO_MAGIC, 4);
  w_u8(&w, TFST_PROTO_VERSION);
  w_u8(&w, TFST_PROTO_VERSION);
  w_tlv(&w, TFST_TLV_ROLE, &role, 1);
  w_tlv_str(&w, TFST_TLV_LABEL, label);
  /* Absent means none: a HELLO without features is byte for byte what a
   * peer from before FEATURES sends. */
  if (features != 0)
    w_tlv_u32(&w, TFST_TLV_FEATURES, features);
  return w_finish(&w, TFST_FRAME_HELLO, 0);
}

/* One TLV of a HELLO; unknown tags are skipped. */
static int
decode_hello_tlv(guint8 tag, const guint8 *v, guint16 vlen, TfstHelloMsg *m)
{
  if (tag == TFST_TLV_ROLE) {
    /* 1 epproxy, 2 gwproxy, 3 relay (TfstRole): anything else would reach
     * code that switches or indexes on the role. */
    if (vlen != 1 || v[0] == 0 || v[0] > HELLO_ROLE_MAX)
      return TFST_FRAME_E_FIELD;
    m->role = v[0];
  } else if (tag == TFST_TLV_LABEL) {
    return read_label(v, vlen, m->label);
  } else if (tag == TFST_TLV_FEATURES) {
    /* Bits we do not know are kept: the caller masks what it uses. */
    if (vlen != 4)
      return TFST_FRAME_E_FIELD;
    m->features = get_u32(v);
  }
  return TFST_FRAME_OK;
}

int
tfst_frame_decode_hello(const guint8 *p, guint32 len, TfstHelloMsg *out)
{
  TfstHelloMsg m = {0};
  TlvIter it;
  guint8 tag;
  const guint8 *v;
  guint16 vlen;
  int r;

  if (len < 6)
    return TFST_FRAME_E_PAYLOAD;
  if (memcmp(p, TFST_HELLO_MAGIC, 4) != 0)
    return TFST_FRAME_E_MAGIC;
  m.min_version = p[4];
  m.max_version = p[5];
  if (m.min_version > m.max_version || m.min_version > TFST_PROTO_VERSION ||
      m.max_version < TFST_PROTO_VERSION)
    return TFST_FRAME_E_VERSION;
  it = (TlvIter){p + 6, len - 6};
  while ((r = tlv_next(&it, &tag, &v, &vlen)) > 0)
    if ((r = decode_hello_tlv(tag, v, vlen, &m)) < 0)
      return r;
  if (r < 0)
    return r;
  if (m.label[0] == '\0' || m.role == 0)
    return TFST_FRAME_E_MISSING;
  *out = m;
  return TFST_FRAME_OK;
}

gssize
tfst_frame_encode_iam(guint8 *buf, gsize cap, const char *label)
{
  Writer w;

  if (!tfst_label_is_valid(label))
    return TFST_FRAME_E_LABEL;
  w_start(&w, buf, cap);
  w_tlv_str(&w, TFST_TLV_LABEL, label);
  return w_finish(&w, TFST_FRAME_IAM, 0);
}

int
tfst_frame_decode_iam(const guint8 *p, guint32 len, char out_label[TFST_LABEL_MAX + 1])
{
  char label[TFST_LABEL_MAX + 1] = "";
  TlvIter it = {p, len};
  guint8 tag;
  const guint8 *v;
  guint16 vlen;
  int r;

  while ((r = tlv_next(&it, &tag, &v, &vlen)) > 0) {
    if (tag == TFST_TLV_LABEL && (r = read_label(v, vlen, label)) < 0)
      return r;
  }
  if (r < 0)
    return r;
  if (label[0] == '\0')
    return TFST_FRAME_E_MISSING;
  memcpy(out_label, label, sizeof(label));
  return TFST_FRAME_OK;
}

gssize
tfst_frame_encode_open(guint8 *buf, gsize cap, guint32 session, const TfstOpenMsg *m)
{
  Writer w;

  if (session == 0)
    return TFST_FRAME_E_SESSION;
  w_start(&w, buf, cap);
  if (m->forward[0] != '\0')
    w_tlv_str(&w, TFST_TLV_FORWARD, m->forward);
  if (m->origin[0] != '\0')
    w_tlv_str(&w, TFST_TLV_ORIGIN, m->origin);
  if (m->route[0] != '\0')
    w_tlv_str(&w, TFST_TLV_ROUTE, m->route);
  w_tlv_address(&w, TFST_TLV_CLIENT, &m->client);
  w_tlv_address(&w, TFST_TLV_DEST, &m->dest);
  w_tlv_u32(&w, TFST_TLV_WINDOW, m->window);
  return w_finish(&w, TFST_FRAME_OPEN, session);
}

int
tfst_frame_decode_open(const guint8 *p, guint32 len, TfstOpenMsg *out)
{
  TfstOpenMsg m = {0};
  TlvIter it = {p, len};
  guint8 tag;
  const guint8 *v;
  guint16 vlen;
  gboolean have_window = FALSE;
  int r = 0;

  while ((r = tlv_next(&it, &tag, &v, &vlen)) > 0) {
    switch (tag) {
      case TFST_TLV_FORWARD:
        r = read_label(v, vlen, m.forward);
        break;
      case TFST_TLV_ORIGIN:
        r = read_label(v, vlen, m.origin);
        break;
      case TFST_TLV_ROUTE:
        r = read_label(v, vlen, m.route);
        break;
      case TFST_TLV_CLIENT:
        r = read_address(v, vlen, &m.client);
        break;
      case TFST_TLV_DEST:
        r = read_address(v, vlen, &m.dest);
        break;
      case TFST_TLV_WINDOW:
        if (vlen != 4 || !tfst_frame_window_is_valid(get_u32(v)))
          return TFST_FRAME_E_FIELD;
        m.window = get_u32(v);
        have_window = TRUE;
        break;
      default:
        break;
    }
    if (r < 0)
      return r;
  }
  if (r < 0)
    return r;
  if (!have_window || m.origin[0] == '\0')
    return TFST_FRAME_E_MISSING;
  *out = m;
  return TFST_FRAME_OK;
}

gssize
tfst_frame_encode_goaway(guint8 *buf, gsize cap, guint32 reason, const char *text)
{
  Writer w;
  guint8 b[4];

  put_u32(b, reason);
  w_start(&w, buf, cap);
  w_bytes(&w, b, 4);
  if (text != NULL)
    w_tlv_str(&w, TFST_TLV_TEXT, text);
  return w_finish(&w, TFST_FRAME_GOAWAY, 0);
}

int
tfst_frame_decode_goaway(const guint8 *p, guint32 len, guint32 *out_reason, char *text,
                         gsize text_cap)
{
  TlvIter it;
  guint8 tag;
  const guint8 *v;
  guint16 vlen;
  int r;

  if (len < 4)
    return TFST_FRAME_E_PAYLOAD;
  if (text_cap > 0)
    text[0] = '\0';
  it = (TlvIter){p + 4, len - 4};
  while ((r = tlv_next(&it, &tag, &v, &vlen)) > 0) {
    if (tag == TFST_TLV_TEXT && text_cap > 0) {
      gsize n = MIN((gsize)vlen, text_cap - 1);
      memcpy(text, v, n);
      text[n] = '\0';
      /* The peer's text ends up in our journal: keep it printable. */
      for (gsize i = 0; i < n; i++)
        if (!g_ascii_isprint(text[i]))
          text[i] = '?';
    }
  }
  if (r < 0)
    return r;
  *out_reason = get_u32(p);
  return TFST_FRAME_OK;
}

GByteArray *
tfst_frame_encode_tell(guint8 type, const TfstTellMsg *m)
{
  g_autoptr(GByteArray) out = NULL;
  Writer w;
  gsize cap = TFST_FRAME_HEADER_SIZE + 3 + TFST_LABEL_MAX;
  gssize n;

  g_return_val_if_fail(type == TFST_FRAME_TELL || type == TFST_FRAME_TELL_OK, NULL);
  cap += m->chain->len * (4 + TFST_LABEL_MAX);
  cap += m->links->len * (4 + 2 * TFST_LABEL_MAX);
  cap += m->networks->len * (4 + TFST_LABEL_MAX + 18);
  cap += m->forwards->len * (4 + 2 * TFST_LABEL_MAX);
  cap += 4; /* ROOTED */
  out = g_byte_array_sized_new(cap);
  g_byte_array_set_size(out, cap);

  w_start(&w, out->data, cap);
  w_tlv_str(&w, TFST_TLV_LABEL, m->label);
  for (guint i = 0; i < m->chain->len; i++) {
    const TfstChainEntry *e = &g_array_index(m->chain, TfstChainEntry, i);
    w_tlv_head(&w, TFST_TLV_CHAIN, 1 + strlen(e->label));
    w_u8(&w, e->depth);
    w_bytes(&w, e->label, strlen(e->label));
  }
  for (guint i = 0; i < m->links->len; i++) {
    const TfstLinkEntry *e = &g_array_index(m->links, TfstLinkEntry, i);
    w_tlv_owned(&w, TFST_TLV_LINK, e->upper, e->lower, strlen(e->lower));
  }
  for (guint i = 0; i < m->networks->len; i++) {
    const TfstNetworkEntry *e = &g_array_index(m->networks, TfstNetworkEntry, i);
    guint8 rest[18] = {e->family == AF_INET6 ? 6 : 4, e->prefix};
    gsize alen = e->family == AF_INET6 ? 16 : 4;
    memcpy(rest + 2, e->addr, alen);
    w_tlv_owned(&w, TFST_TLV_NETWORK, e->owner, rest, 2 + alen);
  }
  for (guint i = 0; i < m->forwards->len; i++) {
    const TfstForwardEntry *e = &g_array_index(m->forwards, TfstForwardEntry, i);
    w_tlv_owned(&w, TFST_TLV_FORWARD, e->owner, e->name, strlen(e->name));
  }
  if (type == TFST_FRAME_TELL_OK) {
    guint8 rooted = m->rooted ? 1 : 0;
    w_tlv(&w, TFST_TLV_ROOTED, &rooted, 1);
  }
  n = w_finish(&w, type, 0);
  if (n < 0)
    return NULL;
  g_byte_array_set_size(out, n);
  return g_steal_pointer(&out);
}

static int
decode_network(const guint8 *v, gsize n, TfstNetworkEntry *e)
{
  int used = read_owner(v, n, e->owner);
  gsize alen;

  if (used < 0)
    return used;
  v += used;
  n -= used;
  if (n < 2)
    return TFST_FRAME_E_FIELD;
  if (v[0] == 4) {
    e->family = AF_INET;
    alen = 4;
  } else if (v[0] == 6) {
    e->family = AF_INET6;
    alen = 16;
  } else {
    return TFST_FRAME_E_ADDRESS;
  }
  e->prefix = v[1];
  if (n != 2 + alen || e->prefix > alen * 8)
    return TFST_FRAME_E_ADDRESS;
  memcpy(e->addr, v + 2, alen);
  return TFST_FRAME_OK;
}

/* An owner-prefixed pair of labels: FORWARD (owner, name), LINK (upper,
 * lower). */
static int
decode_label_pair(const guint8 *v, gsize vlen, char *first, char *second)
{
  int used = read_owner(v, vlen, first);

  return used < 0 ? used : read_label(v + used, vlen - used, second);
}

/* One TLV of a TELL or TELL_OK; unknown tags are skipped. */
static int
decode_tell_tlv(guint8 tag, const guint8 *v, guint16 vlen, TfstTellMsg *out)
{
  int r = TFST_FRAME_OK;

  if (tag == TFST_TLV_LABEL)
    return read_label(v, vlen, out->label);
  if (tag == TFST_TLV_ROOTED) {
    if (vlen != 1 || v[0] > 1)
      return TFST_FRAME_E_FIELD;
    out->rooted = v[0] == 1;
  } else if (tag == TFST_TLV_CHAIN) {
    TfstChainEntry e = {0};
    if (vlen < 2)
      return TFST_FRAME_E_FIELD;
    e.depth = v[0];
    if ((r = read_label(v + 1, vlen - 1, e.label)) == 0)
      g_array_append_val(out->chain, e);
  } else if (tag == TFST_TLV_NETWORK) {
    TfstNetworkEntry e = {0};
    if ((r = decode_network(v, vlen, &e)) == 0)
      g_array_append_val(out->networks, e);
  } else if (tag == TFST_TLV_FORWARD) {
    TfstForwardEntry e = {0};
    if ((r = decode_label_pair(v, vlen, e.owner, e.name)) == 0)
      g_array_append_val(out->forwards, e);
  } else if (tag == TFST_TLV_LINK) {
    TfstLinkEntry e = {0};
    if ((r = decode_label_pair(v, vlen, e.upper, e.lower)) == 0)
      g_array_append_val(out->links, e);
  }
  return r;
}

int
tfst_frame_decode_tell(const guint8 *p, guint32 len, TfstTellMsg *out)
{
  TlvIter it = {p, len};
  guint8 tag;
  const guint8 *v;
  guint16 vlen;
  int r;

  g_return_val_if_fail(out->chain != NULL, TFST_FRAME_E_MISSING);
  out->label[0] = '\0';
  out->rooted = FALSE;
  g_array_set_size(out->chain, 0);
  g_array_set_size(out->links, 0);
  g_array_set_size(out->networks, 0);
  g_array_set_size(out->forwards, 0);
  while ((r = tlv_next(&it, &tag, &v, &vlen)) > 0)
    if ((r = decode_tell_tlv(tag, v, vlen, out)) < 0)
      return r;
  if (r < 0)
    return r;
  if (out->label[0] == '\0')
    return TFST_FRAME_E_MISSING;
  return TFST_FRAME_OK;
}

/* ---- EVENT and EVENT_ACK: fixed layouts, not TLV (docs/protocol.md §5),
 * since one event alone may be larger than a TLV value can be ---- */

static inline void
put_u64(guint8 *p, guint64 v)
{
  put_u32(p, v >> 32);
  put_u32(p + 4, v & 0xffffffffu);
}

/* origin-len u8, origin, sink-len u8, sink, epoch u64. */
static void
w_stream(Writer *w, const TfstEventStream *s)
{
  guint8 b[8];

  w_u8(w, (guint8)strlen(s->origin));
  w_bytes(w, s->origin, strlen(s->origin));
  w_u8(w, (guint8)strlen(s->sink));
  w_bytes(w, s->sink, strlen(s->sink));
  put_u64(b, s->epoch);
  w_bytes(w, b, 8);
}

static gboolean
stream_is_valid(const TfstEventStream *s)
{
  return tfst_label_is_valid(s->origin) && tfst_label_is_valid(s->sink) && s->epoch != 0;
}

/* Reads the stream fields; returns the bytes used or a negative status. */
static int
read_stream(const guint8 *p, gsize len, TfstEventStream *out)
{
  int r1, r2;

  r1 = read_owner(p, len, out->origin);
  if (r1 < 0)
    return r1;
  r2 = read_owner(p + r1, len - r1, out->sink);
  if (r2 < 0)
    return r2;
  if (len - r1 - r2 < 8)
    return TFST_FRAME_E_PAYLOAD;
  out->epoch = tfst_frame_decode_u64(p + r1 + r2);
  if (out->epoch == 0)
    return TFST_FRAME_E_FIELD;
  return r1 + r2 + 8;
}

gssize
tfst_frame_encode_event_ack(guint8 *buf, gsize cap, const TfstEventAckMsg *m)
{
  Writer w;
  guint8 b[12];

  if (!stream_is_valid(&m->stream))
    return TFST_FRAME_E_LABEL;
  put_u64(b, m->acked);
  put_u32(b + 8, m->status);
  w_start(&w, buf, cap);
  w_stream(&w, &m->stream);
  w_bytes(&w, b, 12);
  return w_finish(&w, TFST_FRAME_EVENT_ACK, 0);
}

int
tfst_frame_decode_event_ack(const guint8 *p, guint32 len, TfstEventAckMsg *out)
{
  TfstEventAckMsg m = {0};
  int used = read_stream(p, len, &m.stream);

  if (used < 0)
    return used;
  if (len - (guint32)used != 12)
    return TFST_FRAME_E_PAYLOAD;
  m.acked = tfst_frame_decode_u64(p + used);
  m.status = get_u32(p + used + 8);
  *out = m;
  return TFST_FRAME_OK;
}

/* Where the events of an EVENT frame begin (header included). */
static gsize
event_fixed_size(const guint8 *buf)
{
  gsize olen = buf[TFST_FRAME_HEADER_SIZE];
  gsize slen = buf[TFST_FRAME_HEADER_SIZE + 1 + olen];

  return TFST_FRAME_HEADER_SIZE + 1 + olen + 1 + slen + 24;
}

gssize
tfst_frame_event_begin(guint8 *buf, gsize cap, const TfstEventStream *s, guint64 base,
                       guint64 first)
{
  Writer w;
  guint8 b[16];

  if (!stream_is_valid(s))
    return TFST_FRAME_E_LABEL;
  if (base == 0 || first < base)
    return TFST_FRAME_E_FIELD;
  put_u64(b, base);
  put_u64(b + 8, first);
  w_start(&w, buf, cap);
  w_stream(&w, s);
  w_bytes(&w, b, 16);
  if (w.overflow)
    return TFST_FRAME_E_SPACE;
  return (gssize)w.len;
}

gssize
tfst_frame_event_add(guint8 *buf, gsize cap, gsize used, const guint8 *data, gsize len)
{
  if (len == 0 || len > TFST_EVENT_MAX)
    return TFST_FRAME_E_FIELD;
  if (used + 4 + len > cap || used + 4 + len - TFST_FRAME_HEADER_SIZE > TFST_FRAME_MAX_PAYLOAD)
    return TFST_FRAME_E_SPACE;
  put_u32(buf + used, (guint32)len);
  memcpy(buf + used + 4, data, len);
  return (gssize)(used + 4 + len);
}

gssize
tfst_frame_event_end(guint8 *buf, gsize used)
{
  if (used <= event_fixed_size(buf))
    return TFST_FRAME_E_MISSING;
  tfst_frame_header_encode(buf, TFST_FRAME_EVENT, 0, used - TFST_FRAME_HEADER_SIZE);
  return (gssize)used;
}

/* Counts the events of a batch; every one 1 ... TFST_EVENT_MAX bytes and
 * the last one ending exactly at the payload's end. */
static int
count_events(const guint8 *p, gsize len, guint32 *out_count)
{
  guint32 count = 0;
  gsize off = 0;

  while (off < len) {
    guint32 n;
    if (len - off < 4)
      return TFST_FRAME_E_PAYLOAD;
    n = get_u32(p + off);
    if (n == 0 || n > TFST_EVENT_MAX)
      return TFST_FRAME_E_FIELD;
    if (len - off - 4 < n)
      return TFST_FRAME_E_PAYLOAD;
    off += 4 + n;
    count++;
  }
  if (count == 0)
    return TFST_FRAME_E_MISSING;
  *out_count = count;
  return TFST_FRAME_OK;
}

int
tfst_frame_decode_event(const guint8 *p, guint32 len, TfstEventMsg *out)
{
  TfstEventMsg m = {0};
  int used = read_stream(p, len, &m.stream);
  int r;

  if (used < 0)
    return used;
  if (len - (guint32)used < 16)
    return TFST_FRAME_E_PAYLOAD;
  m.base = tfst_frame_decode_u64(p + used);
  m.first = tfst_frame_decode_u64(p + used + 8);
  m.events = p + used + 16;
  m.events_len = len - (guint32)used - 16;
  if ((r = count_events(m.events, m.events_len, &m.count)) < 0)
    return r;
  /* Sequence numbers start at 1 and the batch cannot wrap them. */
  if (m.base == 0 || m.first < m.base || m.first > G_MAXUINT64 - m.count)
    return TFST_FRAME_E_FIELD;
  *out = m;
  return TFST_FRAME_OK;
}

gboolean
tfst_frame_event_next(const TfstEventMsg *m, gsize *off, const guint8 **data, gsize *len)
{
  guint32 n;

  if (*off + 4 > m->events_len)
    return FALSE;
  n = get_u32(m->events + *off);
  *data = m->events + *off + 4;
  *len = n;
  *off += 4 + n;
  return TRUE;
}
