/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the wire protocol v1 codec (daemon/dataplane/tfst-frame.c), checked
 * against docs/protocol.md.
 *
 * Malformed inputs are built byte by byte instead of patching encoder output,
 * so every case names the one field that is wrong.  Decoders always get an
 * exact-size heap copy of their input so that a valgrind or ASan run of this
 * binary catches any read past the end.
 */
#include "tfst-config.h"
#include "tfst-frame.h"
#include "tfst-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* g_test_rand_*() is reseeded from this for every test case, so the fuzz
 * loops are reproducible in CI; pass --seed=... to explore other inputs. */
#define DEFAULT_SEED    "--seed=R02S74667374000000010000000200000003"
#define FUZZ_ITERATIONS 20000
#define FUZZ_BUF        4096

/* The header does not declare this; tests want g_auto() for TELL messages. */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TfstTellMsg, tfst_tell_msg_clear)

/* Field by field: the structs have padding. */
static void
assert_event_ack_equal(const TfstEventAckMsg *a, const TfstEventAckMsg *b)
{
  g_assert_cmpstr(a->stream.origin, ==, b->stream.origin);
  g_assert_cmpstr(a->stream.sink, ==, b->stream.sink);
  g_assert_cmpuint(a->stream.epoch, ==, b->stream.epoch);
  g_assert_cmpuint(a->acked, ==, b->acked);
  g_assert_cmpuint(a->status, ==, b->status);
}

/* ---- byte builders ---- */

static guint8 *
exact_copy(const guint8 *data, gsize n)
{
  /* 0 bytes gives NULL: decoders must not touch the pointer then. */
  return g_memdup2(data, n);
}

static void
ba_bytes(GByteArray *b, const void *v, gsize n)
{
  if (n > 0)
    g_byte_array_append(b, v, (guint)n);
}

static void
ba_u8(GByteArray *b, guint8 v)
{
  ba_bytes(b, &v, 1);
}

static void
ba_u16(GByteArray *b, guint16 v)
{
  guint8 x[2];

  tfst_test_put_be16(x, v);
  ba_bytes(b, x, 2);
}

static void
ba_u32(GByteArray *b, guint32 v)
{
  guint8 x[4];

  tfst_test_put_be32(x, v);
  ba_bytes(b, x, 4);
}

static void
ba_tlv(GByteArray *b, guint8 tag, const void *v, gsize n)
{
  ba_u8(b, tag);
  ba_u16(b, (guint16)n);
  ba_bytes(b, v, n);
}

static void
ba_tlv_str(GByteArray *b, guint8 tag, const char *s)
{
  ba_tlv(b, tag, s, strlen(s));
}

static void
ba_tlv_u32(GByteArray *b, guint8 tag, guint32 v)
{
  guint8 x[4];

  tfst_test_put_be32(x, v);
  ba_tlv(b, tag, x, 4);
}

/* Address field: wire family code (4 or 6, not AF_*), port, address bytes. */
static void
ba_tlv_addr(GByteArray *b, guint8 tag, guint8 family, const guint8 *addr, gsize alen)
{
  ba_u8(b, tag);
  ba_u16(b, (guint16)(3 + alen));
  ba_u8(b, family);
  ba_u16(b, 8080);
  ba_bytes(b, addr, alen);
}

/* Owner-prefixed TELL entry: owner-len u8, owner, then rest. */
static void
ba_tlv_owned(GByteArray *b, guint8 tag, const char *owner, const void *rest, gsize rest_len)
{
  gsize olen = strlen(owner);

  ba_u8(b, tag);
  ba_u16(b, (guint16)(1 + olen + rest_len));
  ba_u8(b, (guint8)olen);
  ba_bytes(b, owner, olen);
  ba_bytes(b, rest, rest_len);
}

static void
raw_header(guint8 *b, guint8 version, guint8 type, guint16 flags, guint32 session, guint32 length)
{
  b[0] = version;
  b[1] = type;
  tfst_test_put_be16(b + 2, flags);
  tfst_test_put_be32(b + 4, session);
  tfst_test_put_be32(b + 8, length);
}

/* A valid label of n characters that uses every character class allowed. */
static char *
make_label(gsize n)
{
  static const char alphabet[] = "abcXYZ019.-_";
  char *s = g_malloc(n + 1);

  for (gsize i = 0; i < n; i++)
    s[i] = alphabet[i % (sizeof(alphabet) - 1)];
  s[n] = '\0';
  return s;
}

static gboolean
type_is_session(guint t)
{
  return t >= TFST_FRAME_OPEN && t <= TFST_FRAME_CREDIT;
}

static TfstSockAddr
sa_v4(const char *ip, guint16 port)
{
  TfstSockAddr a;

  memset(&a, 0, sizeof(a));
  a.in.sin_family = AF_INET;
  a.in.sin_port = htons(port);
  g_assert_cmpint(inet_pton(AF_INET, ip, &a.in.sin_addr), ==, 1);
  return a;
}

static TfstSockAddr
sa_v6(const char *ip, guint16 port)
{
  TfstSockAddr a;

  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  a.in6.sin6_port = htons(port);
  g_assert_cmpint(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), ==, 1);
  return a;
}

/* Splits one whole encoded frame the way a hop reader does (header, then
 * payload shape) and returns an exact-size copy of the payload. */
static guint8 *
split_frame(const guint8 *buf, gssize n, guint8 type, guint32 session, TfstFrameHeader *h)
{
  guint8 *p;

  g_assert_cmpint(n, >=, TFST_FRAME_HEADER_SIZE);
  g_assert_cmpint(tfst_frame_header_decode(buf, (gsize)n, h), ==, TFST_FRAME_OK);
  g_assert_cmpuint(h->version, ==, TFST_PROTO_VERSION);
  g_assert_cmpuint(h->type, ==, type);
  g_assert_cmpuint(h->flags, ==, 0);
  g_assert_cmpuint(h->session, ==, session);
  g_assert_cmpuint(h->length, ==, (gsize)n - TFST_FRAME_HEADER_SIZE);
  p = exact_copy(buf + TFST_FRAME_HEADER_SIZE, h->length);
  g_assert_cmpint(tfst_frame_payload_check(h, p), ==, TFST_FRAME_OK);
  return p;
}

/* ---- expected-status helpers: on failure the output stays untouched ---- */

static void
expect_header(const guint8 *b, int expected)
{
  g_autofree guint8 *copy = exact_copy(b, TFST_FRAME_HEADER_SIZE);
  TfstFrameHeader h, sentinel;

  memset(&h, 0xab, sizeof(h));
  memcpy(&sentinel, &h, sizeof(h));
  g_assert_cmpint(tfst_frame_header_decode(copy, TFST_FRAME_HEADER_SIZE, &h), ==, expected);
  if (expected != TFST_FRAME_OK)
    g_assert_cmpmem(&h, sizeof(h), &sentinel, sizeof(sentinel));
}

static void
expect_check(guint8 type, guint32 length, const guint8 *payload, int expected)
{
  TfstFrameHeader h = {TFST_PROTO_VERSION, type, 0, type_is_session(type) ? 1 : 0, length};
  g_autofree guint8 *p = exact_copy(payload, payload != NULL ? length : 0);
  int r = tfst_frame_payload_check(&h, p);

  if (r != expected)
    g_test_message("payload check: type %u length %u", type, length);
  g_assert_cmpint(r, ==, expected);
}

static void
expect_hello(const GByteArray *b, int expected)
{
  g_autofree guint8 *p = exact_copy(b->data, b->len);
  TfstHelloMsg m, sentinel;

  memset(&m, 0x5a, sizeof(m));
  memcpy(&sentinel, &m, sizeof(m));
  g_assert_cmpint(tfst_frame_decode_hello(p, b->len, &m), ==, expected);
  if (expected != TFST_FRAME_OK)
    g_assert_cmpmem(&m, sizeof(m), &sentinel, sizeof(sentinel));
}

static void
expect_iam(const GByteArray *b, int expected)
{
  g_autofree guint8 *p = exact_copy(b->data, b->len);
  char label[TFST_LABEL_MAX + 1], sentinel[TFST_LABEL_MAX + 1];

  memset(label, 'Z', sizeof(label));
  memcpy(sentinel, label, sizeof(label));
  g_assert_cmpint(tfst_frame_decode_iam(p, b->len, label), ==, expected);
  if (expected != TFST_FRAME_OK)
    g_assert_cmpmem(label, sizeof(label), sentinel, sizeof(sentinel));
}

static void
expect_open(const GByteArray *b, int expected)
{
  g_autofree guint8 *p = exact_copy(b->data, b->len);
  TfstOpenMsg m, sentinel;

  memset(&m, 0x5a, sizeof(m));
  memcpy(&sentinel, &m, sizeof(m));
  g_assert_cmpint(tfst_frame_decode_open(p, b->len, &m), ==, expected);
  if (expected != TFST_FRAME_OK)
    g_assert_cmpmem(&m, sizeof(m), &sentinel, sizeof(sentinel));
}

static void
expect_tell(const GByteArray *b, int expected)
{
  g_autofree guint8 *p = exact_copy(b->data, b->len);
  g_auto(TfstTellMsg) m = {0};

  tfst_tell_msg_init(&m);
  g_assert_cmpint(tfst_frame_decode_tell(p, b->len, &m), ==, expected);
}

static void
expect_goaway(const GByteArray *b, int expected)
{
  g_autofree guint8 *p = exact_copy(b->data, b->len);
  guint32 reason = 0xdeadbeef;
  char text[64];

  g_assert_cmpint(tfst_frame_decode_goaway(p, b->len, &reason, text, sizeof(text)), ==, expected);
  if (expected != TFST_FRAME_OK)
    g_assert_cmpuint(reason, ==, 0xdeadbeef);
}

/* ---- names and types ---- */

static void
test_type_names(void)
{
  static const char *const names[] = {
      NULL,   "HELLO", "WHO", "IAM",    "TELL", "TELL_OK", "OPEN",   "OPEN_OK", "OPEN_FAIL",
      "DATA", "FIN",   "RST", "CREDIT", "PING", "PONG",    "GOAWAY", "EVENT",   "EVENT_ACK",
  };
  const guint unknown[] = {0, 18, 19, 128, 255};

  G_STATIC_ASSERT(G_N_ELEMENTS(names) == TFST_FRAME_TYPE_LAST + 1);
  for (guint t = 1; t <= TFST_FRAME_TYPE_LAST; t++)
    g_assert_cmpstr(tfst_frame_type_name(t), ==, names[t]);
  for (guint i = 0; i < G_N_ELEMENTS(unknown); i++)
    g_assert_cmpstr(tfst_frame_type_name(unknown[i]), ==, "UNKNOWN");
}

static void
test_type_is_session(void)
{
  for (guint t = 0; t <= 255; t++)
    g_assert_cmpint(tfst_frame_type_is_session(t), ==, type_is_session(t));
}

static void
test_strerror(void)
{
  static const int codes[] = {
      TFST_FRAME_OK,         TFST_FRAME_E_TRUNCATED, TFST_FRAME_E_VERSION, TFST_FRAME_E_TYPE,
      TFST_FRAME_E_OVERSIZE, TFST_FRAME_E_FLAGS,     TFST_FRAME_E_SESSION, TFST_FRAME_E_PAYLOAD,
      TFST_FRAME_E_FIELD,    TFST_FRAME_E_MAGIC,     TFST_FRAME_E_LABEL,   TFST_FRAME_E_ADDRESS,
      TFST_FRAME_E_MISSING,  TFST_FRAME_E_SPACE,
  };
  const int unknown[] = {1, 2, -14, -100, G_MININT, G_MAXINT};
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  const char *fallback = tfst_frame_strerror(unknown[0]);

  g_assert_nonnull(fallback);
  g_assert_cmpstr(fallback, !=, "");
  for (guint i = 0; i < G_N_ELEMENTS(codes); i++) {
    const char *s = tfst_frame_strerror(codes[i]);

    /* The codes are contiguous 0..-13; a gap would mean a missed code. */
    g_assert_cmpint(codes[i], ==, -(int)i);
    g_assert_nonnull(s);
    g_assert_cmpstr(s, !=, "");
    g_assert_cmpstr(s, !=, fallback);
    g_assert_false(g_hash_table_contains(seen, s));
    g_hash_table_add(seen, (gpointer)s);
  }
  for (guint i = 0; i < G_N_ELEMENTS(unknown); i++)
    g_assert_cmpstr(tfst_frame_strerror(unknown[i]), ==, fallback);
}

/* ---- header ---- */

static void
test_header_roundtrip(void)
{
  const guint32 session_ids[] = {1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff};
  const guint32 lengths[] = {0, 1, 4, 0x1234, 0x10000, TFST_FRAME_MAX_PAYLOAD};

  for (guint t = 1; t <= TFST_FRAME_TYPE_LAST; t++) {
    guint n_sessions = type_is_session(t) ? G_N_ELEMENTS(session_ids) : 1;

    for (guint s = 0; s < n_sessions; s++) {
      guint32 session = type_is_session(t) ? session_ids[s] : 0;

      for (guint l = 0; l < G_N_ELEMENTS(lengths); l++) {
        guint8 buf[TFST_FRAME_HEADER_SIZE + 4], expect[TFST_FRAME_HEADER_SIZE];
        TfstFrameHeader h;

        memset(buf, 0xcc, sizeof(buf));
        tfst_frame_header_encode(buf, t, session, lengths[l]);
        /* Byte layout: version, type, flags (0), session BE, length BE. */
        raw_header(expect, 1, t, 0, session, lengths[l]);
        g_assert_cmpmem(buf, TFST_FRAME_HEADER_SIZE, expect, sizeof(expect));
        g_assert_cmpuint(buf[TFST_FRAME_HEADER_SIZE], ==, 0xcc);

        expect_header(buf, TFST_FRAME_OK);
        /* Trailing payload bytes are not the header's business. */
        g_assert_cmpint(tfst_frame_header_decode(buf, sizeof(buf), &h), ==, TFST_FRAME_OK);
        g_assert_cmpuint(h.version, ==, TFST_PROTO_VERSION);
        g_assert_cmpuint(h.type, ==, t);
        g_assert_cmpuint(h.flags, ==, 0);
        g_assert_cmpuint(h.session, ==, session);
        g_assert_cmpuint(h.length, ==, lengths[l]);
      }
    }
  }
}

static void
test_header_truncated(void)
{
  guint8 valid[TFST_FRAME_HEADER_SIZE], bad[TFST_FRAME_HEADER_SIZE];

  raw_header(valid, 1, TFST_FRAME_DATA, 0, 5, 10);
  /* Even a prefix that is already wrong is only "need more bytes": the
   * header is judged as a whole. */
  raw_header(bad, 2, 0, 0xffff, 0, 0xffffffff);
  for (gsize len = 0; len < TFST_FRAME_HEADER_SIZE; len++) {
    g_autofree guint8 *v = exact_copy(valid, len);
    g_autofree guint8 *b = exact_copy(bad, len);
    TfstFrameHeader h, sentinel;

    memset(&h, 0xab, sizeof(h));
    memcpy(&sentinel, &h, sizeof(h));
    g_assert_cmpint(tfst_frame_header_decode(v, len, &h), ==, TFST_FRAME_E_TRUNCATED);
    g_assert_cmpint(tfst_frame_header_decode(b, len, &h), ==, TFST_FRAME_E_TRUNCATED);
    g_assert_cmpmem(&h, sizeof(h), &sentinel, sizeof(sentinel));
  }
  expect_header(valid, TFST_FRAME_OK);
}

static void
test_header_version(void)
{
  const guint8 versions[] = {0, 2, 3, 0x10, 0x80, 255};
  guint8 b[TFST_FRAME_HEADER_SIZE];

  for (guint i = 0; i < G_N_ELEMENTS(versions); i++) {
    raw_header(b, versions[i], TFST_FRAME_WHO, 0, 0, 0);
    expect_header(b, TFST_FRAME_E_VERSION);
    raw_header(b, versions[i], TFST_FRAME_DATA, 0, 7, 100);
    expect_header(b, TFST_FRAME_E_VERSION);
  }
}

static void
test_header_type(void)
{
  const guint8 types[] = {0, TFST_FRAME_TYPE_LAST + 1, 19, 0x80, 255};
  guint8 b[TFST_FRAME_HEADER_SIZE];

  for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
    raw_header(b, 1, types[i], 0, 0, 0);
    expect_header(b, TFST_FRAME_E_TYPE);
    raw_header(b, 1, types[i], 0, 1, 4);
    expect_header(b, TFST_FRAME_E_TYPE);
  }
}

static void
test_header_oversize(void)
{
  const guint32 lengths[] = {TFST_FRAME_MAX_PAYLOAD + 1, TFST_FRAME_MAX_PAYLOAD * 2, 0x7fffffff,
                             0x80000000, 0xffffffff};
  guint8 b[TFST_FRAME_HEADER_SIZE];

  G_STATIC_ASSERT(TFST_FRAME_MAX_PAYLOAD == 262144);
  for (guint i = 0; i < G_N_ELEMENTS(lengths); i++) {
    raw_header(b, 1, TFST_FRAME_DATA, 0, 3, lengths[i]);
    expect_header(b, TFST_FRAME_E_OVERSIZE);
    raw_header(b, 1, TFST_FRAME_TELL, 0, 0, lengths[i]);
    expect_header(b, TFST_FRAME_E_OVERSIZE);
  }
  raw_header(b, 1, TFST_FRAME_DATA, 0, 3, TFST_FRAME_MAX_PAYLOAD);
  expect_header(b, TFST_FRAME_OK);
}

static void
test_header_flags(void)
{
  guint8 b[TFST_FRAME_HEADER_SIZE];

  for (guint bit = 0; bit < 16; bit++) {
    raw_header(b, 1, TFST_FRAME_PING, 1u << bit, 0, 8);
    expect_header(b, TFST_FRAME_E_FLAGS);
    raw_header(b, 1, TFST_FRAME_DATA, 1u << bit, 9, 1);
    expect_header(b, TFST_FRAME_E_FLAGS);
  }
  raw_header(b, 1, TFST_FRAME_FIN, 0xffff, 9, 0);
  expect_header(b, TFST_FRAME_E_FLAGS);
}

static void
test_header_session(void)
{
  const guint32 nonzero[] = {1, 2, 0x80000000, 0xffffffff};
  guint8 b[TFST_FRAME_HEADER_SIZE];

  for (guint t = 1; t <= TFST_FRAME_TYPE_LAST; t++) {
    if (type_is_session(t)) {
      raw_header(b, 1, t, 0, 0, 4);
      expect_header(b, TFST_FRAME_E_SESSION);
      continue;
    }
    for (guint i = 0; i < G_N_ELEMENTS(nonzero); i++) {
      raw_header(b, 1, t, 0, nonzero[i], 4);
      expect_header(b, TFST_FRAME_E_SESSION);
    }
  }
}

/* When several fields are wrong the first failing check in the documented
 * order wins: version, type, length, flags, session. */
static void
test_header_precedence(void)
{
  guint8 b[TFST_FRAME_HEADER_SIZE];

  raw_header(b, 2, 0, 1, 1, 0xffffffff);
  expect_header(b, TFST_FRAME_E_VERSION);
  raw_header(b, 1, 0, 1, 1, 0xffffffff);
  expect_header(b, TFST_FRAME_E_TYPE);
  raw_header(b, 1, TFST_FRAME_WHO, 1, 1, 0xffffffff);
  expect_header(b, TFST_FRAME_E_OVERSIZE);
  raw_header(b, 1, TFST_FRAME_WHO, 1, 1, 0);
  expect_header(b, TFST_FRAME_E_FLAGS);
  raw_header(b, 1, TFST_FRAME_WHO, 0, 1, 0);
  expect_header(b, TFST_FRAME_E_SESSION);
}

/* ---- payload shape ---- */

static void
test_payload_check(void)
{
  static const struct {
    guint8 type;
    guint32 length;
    int expected;
  } cases[] = {
      {TFST_FRAME_WHO, 0, TFST_FRAME_OK},
      {TFST_FRAME_WHO, 1, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_WHO, 12, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_FIN, 0, TFST_FRAME_OK},
      {TFST_FRAME_FIN, 1, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_FIN, 4, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN_OK, 4, TFST_FRAME_OK},
      {TFST_FRAME_OPEN_OK, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN_OK, 3, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN_OK, 5, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN_OK, 8, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN_FAIL, 4, TFST_FRAME_OK},
      {TFST_FRAME_OPEN_FAIL, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN_FAIL, 3, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN_FAIL, 5, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_RST, 4, TFST_FRAME_OK},
      {TFST_FRAME_RST, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_RST, 3, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_RST, 5, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_CREDIT, 4, TFST_FRAME_OK},
      {TFST_FRAME_CREDIT, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_CREDIT, 3, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_CREDIT, 5, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_CREDIT, 8, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PING, 8, TFST_FRAME_OK},
      {TFST_FRAME_PING, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PING, 4, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PING, 7, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PING, 9, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PING, 16, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PONG, 8, TFST_FRAME_OK},
      {TFST_FRAME_PONG, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PONG, 4, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PONG, 7, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_PONG, 9, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_DATA, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_DATA, 1, TFST_FRAME_OK},
      {TFST_FRAME_DATA, 16, TFST_FRAME_OK},
      {TFST_FRAME_HELLO, 6, TFST_FRAME_OK},
      {TFST_FRAME_HELLO, 16, TFST_FRAME_OK},
      {TFST_FRAME_GOAWAY, 4, TFST_FRAME_OK},
      {TFST_FRAME_GOAWAY, 16, TFST_FRAME_OK},
      {TFST_FRAME_IAM, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_IAM, 1, TFST_FRAME_OK},
      {TFST_FRAME_TELL, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_TELL, 1, TFST_FRAME_OK},
      {TFST_FRAME_TELL_OK, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_TELL_OK, 1, TFST_FRAME_OK},
      {TFST_FRAME_OPEN, 0, TFST_FRAME_E_PAYLOAD},
      {TFST_FRAME_OPEN, 1, TFST_FRAME_OK},
      {0, 0, TFST_FRAME_E_TYPE},
      {TFST_FRAME_TYPE_LAST + 1, 4, TFST_FRAME_E_TYPE},
      {255, 8, TFST_FRAME_E_TYPE},
  };
  guint8 payload[16];

  memset(payload, 0x5a, sizeof(payload));
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
    expect_check(cases[i].type, cases[i].length, cases[i].length > 0 ? payload : NULL,
                 cases[i].expected);
  for (guint32 len = 0; len < 6; len++)
    expect_check(TFST_FRAME_HELLO, len, len > 0 ? payload : NULL, TFST_FRAME_E_PAYLOAD);
  for (guint32 len = 0; len < 4; len++)
    expect_check(TFST_FRAME_GOAWAY, len, len > 0 ? payload : NULL, TFST_FRAME_E_PAYLOAD);
}

static void
test_payload_check_credit(void)
{
  const guint32 good[] = {1, 2, 65536, 0x7fffffff, 0xffffffff};
  guint8 v[4];

  tfst_test_put_be32(v, 0);
  expect_check(TFST_FRAME_CREDIT, 4, v, TFST_FRAME_E_FIELD);
  for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
    tfst_test_put_be32(v, good[i]);
    expect_check(TFST_FRAME_CREDIT, 4, v, TFST_FRAME_OK);
  }
}

/* ---- fixed-size payloads ---- */

static void
test_u32_frames(void)
{
  static const struct {
    guint8 type;
    guint32 session;
    guint32 value;
  } cases[] = {
      {TFST_FRAME_OPEN_OK, 1, 65536},
      {TFST_FRAME_OPEN_OK, 0xffffffff, G_MAXINT32},
      {TFST_FRAME_OPEN_FAIL, 2, ECONNREFUSED},
      {TFST_FRAME_OPEN_FAIL, 4, ETIMEDOUT},
      {TFST_FRAME_RST, 3, ECONNRESET},
      {TFST_FRAME_RST, 5, 0},
      {TFST_FRAME_CREDIT, 6, 1},
      {TFST_FRAME_CREDIT, 7, 0xffffffff},
  };
  /* RST on session 3 with ECONNREFUSED (111). */
  static const guint8 golden[] = {1, 11, 0, 0, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 111};
  guint8 buf[64];

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree guint8 *p = NULL;
    TfstFrameHeader h;
    guint32 v = 0;
    gssize n;

    n = tfst_frame_encode_u32(buf, sizeof(buf), cases[i].type, cases[i].session, cases[i].value);
    g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE + 4);
    p = split_frame(buf, n, cases[i].type, cases[i].session, &h);
    g_assert_cmpint(tfst_frame_decode_u32(&h, p, &v), ==, TFST_FRAME_OK);
    g_assert_cmpuint(v, ==, cases[i].value);
  }
  g_assert_cmpint(tfst_frame_encode_u32(buf, sizeof(buf), TFST_FRAME_RST, 3, ECONNREFUSED), ==,
                  sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
}

static void
test_u32_payload_short(void)
{
  const guint8 p[4] = {0, 0, 0, 9};

  for (guint32 len = 0; len < 4; len++) {
    TfstFrameHeader h = {TFST_PROTO_VERSION, TFST_FRAME_RST, 0, 1, len};
    g_autofree guint8 *copy = exact_copy(p, len);
    guint32 v = 77;

    g_assert_cmpint(tfst_frame_decode_u32(&h, copy, &v), ==, TFST_FRAME_E_PAYLOAD);
    g_assert_cmpuint(v, ==, 77);
  }
}

static void
test_u64_frames(void)
{
  const guint64 values[] = {0, 1, 0x0123456789abcdefull, 0x8000000000000000ull, G_MAXUINT64};
  static const guint8 golden[] = {1, 13, 0,    0,    0,    0,    0,    0,    0,    0,
                                  0, 8,  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  guint8 buf[64];

  for (guint t = TFST_FRAME_PING; t <= TFST_FRAME_PONG; t++) {
    for (guint i = 0; i < G_N_ELEMENTS(values); i++) {
      g_autofree guint8 *p = NULL;
      TfstFrameHeader h;
      gssize n = tfst_frame_encode_u64(buf, sizeof(buf), t, values[i]);

      g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE + 8);
      p = split_frame(buf, n, t, 0, &h);
      g_assert_cmpuint(tfst_frame_decode_u64(p), ==, values[i]);
    }
  }
  g_assert_cmpint(tfst_frame_encode_u64(buf, sizeof(buf), TFST_FRAME_PING, values[2]), ==,
                  sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
}

static void
test_empty_frames(void)
{
  static const guint8 golden_fin[] = {1, 10, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0};
  guint8 buf[TFST_FRAME_HEADER_SIZE];
  TfstFrameHeader h;
  gssize n;

  n = tfst_frame_encode_empty(buf, sizeof(buf), TFST_FRAME_WHO, 0);
  g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE);
  g_free(split_frame(buf, n, TFST_FRAME_WHO, 0, &h));

  n = tfst_frame_encode_empty(buf, sizeof(buf), TFST_FRAME_FIN, 9);
  g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE);
  g_free(split_frame(buf, n, TFST_FRAME_FIN, 9, &h));
  g_assert_cmpmem(buf, sizeof(buf), golden_fin, sizeof(golden_fin));
}

/* ---- labels ---- */

static void
test_label_valid(void)
{
  g_autofree char *l63 = make_label(TFST_LABEL_MAX);
  g_autofree char *l64 = make_label(TFST_LABEL_MAX + 1);
  g_autofree char *l300 = make_label(300);
  const char *good[] = {"a", "ep", "relay1", "gw-1.site_a", "0", "A.B-C_D", "x9"};
  const char *bad[] = {"",    " ",   "a b",  "a/b", "/",    "a:b", "a@b",   "a\tb",
                       "a\n", "é",   "a+b",  "a,b", "a;b",  "a*b", "a\x7f", "a\xff",
                       "ab ", " ab", "a\\b", "a%b", "[ab]", "a=b", "a'b",   "\"ab\""};

  g_assert_true(tfst_label_is_valid(l63));
  g_assert_false(tfst_label_is_valid(l64));
  g_assert_false(tfst_label_is_valid(l300));
  g_assert_false(tfst_label_is_valid(NULL));
  for (guint i = 0; i < G_N_ELEMENTS(good); i++)
    g_assert_true(tfst_label_is_valid(good[i]));
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    if (tfst_label_is_valid(bad[i]))
      g_test_message("accepted bad label \"%s\"", bad[i]);
    g_assert_false(tfst_label_is_valid(bad[i]));
  }
}

/* Label field contents the decoders must refuse with E_LABEL, as raw bytes
 * because some contain NUL. */
typedef struct {
  const char *bytes;
  gsize len;
} RawLabel;

static const RawLabel bad_labels[] = {
    {"", 0},   {"a b", 3}, {"a/b", 3},      {"/", 1},    {"a\0b", 3},  {"ab\0", 3},    {"\0ab", 3},
    {"\0", 1}, {"a:b", 3}, {"\xc3\xa9", 2}, {"a\nb", 3}, {"a\x7f", 2}, {"relay1 ", 7},
};

static void
test_label_fields_too_long(void)
{
  g_autofree char *l63 = make_label(TFST_LABEL_MAX);
  g_autofree char *l64 = make_label(TFST_LABEL_MAX + 1);
  g_autofree char *l1000 = make_label(1000);
  g_autoptr(GByteArray) ok = g_byte_array_new();
  g_autoptr(GByteArray) b64 = g_byte_array_new();
  g_autoptr(GByteArray) b1000 = g_byte_array_new();

  ba_tlv_str(ok, TFST_TLV_LABEL, l63);
  expect_iam(ok, TFST_FRAME_OK);
  ba_tlv_str(b64, TFST_TLV_LABEL, l64);
  expect_iam(b64, TFST_FRAME_E_LABEL);
  ba_tlv_str(b1000, TFST_TLV_LABEL, l1000);
  expect_iam(b1000, TFST_FRAME_E_LABEL);
}

/* ---- HELLO ---- */

static GByteArray *
hello_head(const char *magic, guint8 min_version, guint8 max_version)
{
  GByteArray *b = g_byte_array_new();

  ba_bytes(b, magic, 4);
  ba_u8(b, min_version);
  ba_u8(b, max_version);
  return b;
}

static GByteArray *
hello_valid(void)
{
  GByteArray *b = hello_head(TFST_HELLO_MAGIC, 1, 1);
  guint8 role = 3;

  ba_tlv(b, TFST_TLV_ROLE, &role, 1);
  ba_tlv_str(b, TFST_TLV_LABEL, "relay1");
  return b;
}

static void
test_hello_roundtrip(void)
{
  g_autofree char *l63 = make_label(TFST_LABEL_MAX);
  const char *labels[] = {"a", "ep", "gw-1.site_a", l63};
  /* HELLO from "ep", role epproxy: magic, versions 1..1, ROLE, LABEL. */
  static const guint8 golden[] = {1,   1,   0, 0, 0, 0, 0, 0, 0, 0, 0, 15,  'T', 'F',
                                  'S', 'T', 1, 1, 2, 0, 1, 1, 1, 0, 2, 'e', 'p'};
  guint8 buf[256];

  for (guint8 role = 1; role <= 3; role++) {
    for (guint i = 0; i < G_N_ELEMENTS(labels); i++) {
      g_autofree guint8 *p = NULL;
      TfstFrameHeader h;
      TfstHelloMsg m;
      gssize n = tfst_frame_encode_hello(buf, sizeof(buf), role, labels[i], 0);

      g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE + 6 + 4 + 3 + strlen(labels[i]));
      p = split_frame(buf, n, TFST_FRAME_HELLO, 0, &h);
      g_assert_cmpint(tfst_frame_decode_hello(p, h.length, &m), ==, TFST_FRAME_OK);
      g_assert_cmpuint(m.min_version, ==, 1);
      g_assert_cmpuint(m.max_version, ==, 1);
      g_assert_cmpuint(m.role, ==, role);
      g_assert_cmpstr(m.label, ==, labels[i]);
    }
  }
  g_assert_cmpint(tfst_frame_encode_hello(buf, sizeof(buf), 1, "ep", 0), ==, sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
}

static void
test_hello_short(void)
{
  g_autoptr(GByteArray) valid = hello_valid();

  for (guint len = 0; len < 6; len++) {
    g_autoptr(GByteArray) b = g_byte_array_new();

    ba_bytes(b, valid->data, len);
    expect_hello(b, TFST_FRAME_E_PAYLOAD);
  }
}

static void
test_hello_magic(void)
{
  const char *magics[] = {"TFSU", "tfst", "XFST",     "TFS ",
                          "HTTP", "SSH-", "\0\0\0\0", "\x16\x03\x01"};

  for (guint i = 0; i < G_N_ELEMENTS(magics); i++) {
    g_autoptr(GByteArray) b = hello_head(magics[i], 1, 1);
    guint8 role = 1;

    ba_tlv(b, TFST_TLV_ROLE, &role, 1);
    ba_tlv_str(b, TFST_TLV_LABEL, "ep");
    expect_hello(b, TFST_FRAME_E_MAGIC);
  }
  {
    /* Magic is checked before anything after it, even with no TLVs. */
    g_autoptr(GByteArray) b = hello_head("TFSX", 9, 0);
    expect_hello(b, TFST_FRAME_E_MAGIC);
  }
}

static void
test_hello_version_range(void)
{
  static const struct {
    guint8 min_version;
    guint8 max_version;
    int expected;
  } cases[] = {
      {1, 1, TFST_FRAME_OK},
      {0, 1, TFST_FRAME_OK},
      {1, 2, TFST_FRAME_OK},
      {0, 255, TFST_FRAME_OK},
      {0, 0, TFST_FRAME_E_VERSION},
      {2, 2, TFST_FRAME_E_VERSION},
      {2, 3, TFST_FRAME_E_VERSION},
      {2, 255, TFST_FRAME_E_VERSION},
      {255, 255, TFST_FRAME_E_VERSION},
      {2, 1, TFST_FRAME_E_VERSION},
      {1, 0, TFST_FRAME_E_VERSION},
      {255, 0, TFST_FRAME_E_VERSION},
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GByteArray) b =
        hello_head(TFST_HELLO_MAGIC, cases[i].min_version, cases[i].max_version);
    guint8 role = 2;

    ba_tlv(b, TFST_TLV_ROLE, &role, 1);
    ba_tlv_str(b, TFST_TLV_LABEL, "gw1");
    expect_hello(b, cases[i].expected);
    if (cases[i].expected == TFST_FRAME_OK) {
      TfstHelloMsg m;

      g_assert_cmpint(tfst_frame_decode_hello(b->data, b->len, &m), ==, TFST_FRAME_OK);
      g_assert_cmpuint(m.min_version, ==, cases[i].min_version);
      g_assert_cmpuint(m.max_version, ==, cases[i].max_version);
    }
  }
}

static void
test_hello_missing(void)
{
  g_autoptr(GByteArray) none = hello_head(TFST_HELLO_MAGIC, 1, 1);
  g_autoptr(GByteArray) role_only = hello_head(TFST_HELLO_MAGIC, 1, 1);
  g_autoptr(GByteArray) label_only = hello_head(TFST_HELLO_MAGIC, 1, 1);
  g_autoptr(GByteArray) unknown_only = hello_head(TFST_HELLO_MAGIC, 1, 1);
  g_autoptr(GByteArray) label_elsewhere = hello_head(TFST_HELLO_MAGIC, 1, 1);
  guint8 role = 1;

  expect_hello(none, TFST_FRAME_E_MISSING);
  ba_tlv(role_only, TFST_TLV_ROLE, &role, 1);
  expect_hello(role_only, TFST_FRAME_E_MISSING);
  ba_tlv_str(label_only, TFST_TLV_LABEL, "ep");
  expect_hello(label_only, TFST_FRAME_E_MISSING);
  ba_tlv_str(unknown_only, 200, "ep");
  expect_hello(unknown_only, TFST_FRAME_E_MISSING);
  /* A label under another tag does not count as the LABEL field. */
  ba_tlv(label_elsewhere, TFST_TLV_ROLE, &role, 1);
  ba_tlv_str(label_elsewhere, TFST_TLV_ORIGIN, "ep");
  expect_hello(label_elsewhere, TFST_FRAME_E_MISSING);
}

static void
test_hello_role(void)
{
  const guint8 bad_values[] = {0, 4, 5, 0x80, 255};
  const guint8 two[2] = {1, 1};

  for (guint i = 0; i < G_N_ELEMENTS(bad_values); i++) {
    g_autoptr(GByteArray) b = hello_head(TFST_HELLO_MAGIC, 1, 1);

    ba_tlv(b, TFST_TLV_ROLE, &bad_values[i], 1);
    ba_tlv_str(b, TFST_TLV_LABEL, "ep");
    expect_hello(b, TFST_FRAME_E_FIELD);
  }
  for (gsize len = 0; len <= 2; len += 2) {
    g_autoptr(GByteArray) b = hello_head(TFST_HELLO_MAGIC, 1, 1);

    ba_tlv(b, TFST_TLV_ROLE, two, len);
    ba_tlv_str(b, TFST_TLV_LABEL, "ep");
    expect_hello(b, TFST_FRAME_E_FIELD);
  }
}

static void
test_hello_label(void)
{
  for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
    g_autoptr(GByteArray) b = hello_head(TFST_HELLO_MAGIC, 1, 1);
    guint8 role = 2;

    ba_tlv(b, TFST_TLV_ROLE, &role, 1);
    ba_tlv(b, TFST_TLV_LABEL, bad_labels[i].bytes, bad_labels[i].len);
    expect_hello(b, TFST_FRAME_E_LABEL);
  }
}

/* TLVs that do not fit the payload: a lone tag byte, a tag with half a
 * length, and lengths reaching past the end. */
static void
append_broken_tlvs(GPtrArray *out, const GByteArray *prefix)
{
  const guint16 overlong[] = {1, 5, 0x100, 0xffff};

  for (guint cut = 1; cut <= 2; cut++) {
    GByteArray *b = g_byte_array_new();

    ba_bytes(b, prefix->data, prefix->len);
    ba_bytes(b, (const guint8[]){TFST_TLV_LABEL, 0}, cut);
    g_ptr_array_add(out, b);
  }
  for (guint i = 0; i < G_N_ELEMENTS(overlong); i++) {
    GByteArray *b = g_byte_array_new();

    ba_bytes(b, prefix->data, prefix->len);
    ba_u8(b, TFST_TLV_TEXT);
    ba_u16(b, overlong[i]);
    ba_bytes(b, "abcd", MIN(4, overlong[i] - 1));
    g_ptr_array_add(out, b);
  }
}

static void
test_hello_tlv_truncated(void)
{
  g_autoptr(GByteArray) valid = hello_valid();
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);

  append_broken_tlvs(cases, valid);
  for (guint i = 0; i < cases->len; i++)
    expect_hello(g_ptr_array_index(cases, i), TFST_FRAME_E_FIELD);
}

static void
test_hello_unknown_tlv(void)
{
  g_autoptr(GByteArray) b = hello_head(TFST_HELLO_MAGIC, 1, 2);
  guint8 role = 1, role2 = 2;
  TfstHelloMsg m;

  ba_tlv_str(b, 0, "");
  ba_tlv_str(b, 200, "future field");
  ba_tlv(b, TFST_TLV_ROLE, &role, 1);
  ba_tlv_str(b, TFST_TLV_WINDOW, "not for HELLO");
  ba_tlv_str(b, TFST_TLV_LABEL, "first");
  ba_tlv_str(b, 255, "x");
  /* A repeated single-valued field: the last occurrence wins. */
  ba_tlv(b, TFST_TLV_ROLE, &role2, 1);
  ba_tlv_str(b, TFST_TLV_LABEL, "second");
  expect_hello(b, TFST_FRAME_OK);
  g_assert_cmpint(tfst_frame_decode_hello(b->data, b->len, &m), ==, TFST_FRAME_OK);
  g_assert_cmpuint(m.role, ==, 2);
  g_assert_cmpstr(m.label, ==, "second");
}

static void
test_hello_encode_bad_label(void)
{
  g_autofree char *l64 = make_label(TFST_LABEL_MAX + 1);
  const char *bad[] = {NULL, "", "a b", "a/b", l64};
  guint8 buf[256], untouched[256];

  memset(buf, 0xee, sizeof(buf));
  memcpy(untouched, buf, sizeof(buf));
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_cmpint(tfst_frame_encode_hello(buf, sizeof(buf), 1, bad[i], 0), ==,
                    TFST_FRAME_E_LABEL);
    g_assert_cmpint(tfst_frame_encode_iam(buf, sizeof(buf), bad[i]), ==, TFST_FRAME_E_LABEL);
  }
  g_assert_cmpmem(buf, sizeof(buf), untouched, sizeof(untouched));
}

/* ---- WHO / IAM ---- */

static void
test_iam_roundtrip(void)
{
  g_autofree char *l63 = make_label(TFST_LABEL_MAX);
  const char *labels[] = {"r", "relay1", l63};
  static const guint8 golden[] = {1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 1, 0, 3, 'g', 'w', '1'};
  guint8 buf[128];

  for (guint i = 0; i < G_N_ELEMENTS(labels); i++) {
    g_autofree guint8 *p = NULL;
    TfstFrameHeader h;
    char label[TFST_LABEL_MAX + 1];
    gssize n = tfst_frame_encode_iam(buf, sizeof(buf), labels[i]);

    g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE + 3 + strlen(labels[i]));
    p = split_frame(buf, n, TFST_FRAME_IAM, 0, &h);
    g_assert_cmpint(tfst_frame_decode_iam(p, h.length, label), ==, TFST_FRAME_OK);
    g_assert_cmpstr(label, ==, labels[i]);
  }
  g_assert_cmpint(tfst_frame_encode_iam(buf, sizeof(buf), "gw1"), ==, sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
}

static void
test_iam_errors(void)
{
  g_autoptr(GByteArray) empty = g_byte_array_new();
  g_autoptr(GByteArray) unknown = g_byte_array_new();
  g_autoptr(GByteArray) prefix = g_byte_array_new();
  g_autoptr(GPtrArray) broken = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);

  expect_iam(empty, TFST_FRAME_E_MISSING);
  ba_tlv_str(unknown, TFST_TLV_ORIGIN, "gw1");
  ba_tlv_str(unknown, 77, "gw1");
  expect_iam(unknown, TFST_FRAME_E_MISSING);
  for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
    g_autoptr(GByteArray) b = g_byte_array_new();

    ba_tlv(b, TFST_TLV_LABEL, bad_labels[i].bytes, bad_labels[i].len);
    expect_iam(b, TFST_FRAME_E_LABEL);
  }
  ba_tlv_str(prefix, TFST_TLV_LABEL, "gw1");
  append_broken_tlvs(broken, prefix);
  for (guint i = 0; i < broken->len; i++)
    expect_iam(g_ptr_array_index(broken, i), TFST_FRAME_E_FIELD);
}

/* ---- OPEN ---- */

static TfstOpenMsg
open_full(void)
{
  TfstOpenMsg m;

  memset(&m, 0, sizeof(m));
  g_strlcpy(m.forward, "web", sizeof(m.forward));
  g_strlcpy(m.origin, "gw1", sizeof(m.origin));
  g_strlcpy(m.route, "gw2", sizeof(m.route));
  m.client = sa_v4("10.1.2.3", 40000);
  m.dest = sa_v6("2001:db8::1", 443);
  m.window = 65536;
  return m;
}

static void
assert_open_equal(const TfstOpenMsg *a, const TfstOpenMsg *b)
{
  g_assert_cmpstr(a->forward, ==, b->forward);
  g_assert_cmpstr(a->origin, ==, b->origin);
  g_assert_cmpstr(a->route, ==, b->route);
  g_assert_cmpmem(&a->client, sizeof(a->client), &b->client, sizeof(b->client));
  g_assert_cmpmem(&a->dest, sizeof(a->dest), &b->dest, sizeof(b->dest));
  g_assert_cmpuint(a->window, ==, b->window);
}

static void
check_open_roundtrip(const TfstOpenMsg *m, guint32 session)
{
  g_autofree guint8 *p = NULL;
  guint8 buf[512];
  TfstFrameHeader h;
  TfstOpenMsg out;
  gssize n = tfst_frame_encode_open(buf, sizeof(buf), session, m);

  g_assert_cmpint(n, >, TFST_FRAME_HEADER_SIZE);
  p = split_frame(buf, n, TFST_FRAME_OPEN, session, &h);
  g_assert_cmpint(tfst_frame_decode_open(p, h.length, &out), ==, TFST_FRAME_OK);
  assert_open_equal(&out, m);
}

static void
test_open_roundtrip(void)
{
  g_autofree char *l63 = make_label(TFST_LABEL_MAX);
  TfstOpenMsg m = open_full();

  check_open_roundtrip(&m, 1);
  m.client = sa_v6("::ffff:10.0.0.1", 1);
  m.dest = sa_v4("255.255.255.255", 65535);
  m.window = G_MAXINT32;
  check_open_roundtrip(&m, 0xffffffff);
  /* Minimal: only ORIGIN and WINDOW, nothing else. */
  memset(&m, 0, sizeof(m));
  g_strlcpy(m.origin, l63, sizeof(m.origin));
  m.window = 1;
  check_open_roundtrip(&m, 2);
}

static void
test_open_golden(void)
{
  /* OPEN session 5, ORIGIN "gw1", WINDOW 65536. */
  static const guint8 golden[] = {1, 6, 0,   0,   0,   0,  0, 5, 0, 0, 0, 13, 8,
                                  0, 3, 'g', 'w', '1', 10, 0, 4, 0, 1, 0, 0};
  TfstOpenMsg m;
  guint8 buf[128];

  memset(&m, 0, sizeof(m));
  g_strlcpy(m.origin, "gw1", sizeof(m.origin));
  m.window = 65536;
  g_assert_cmpint(tfst_frame_encode_open(buf, sizeof(buf), 5, &m), ==, sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
}

static GByteArray *
open_minimal(void)
{
  GByteArray *b = g_byte_array_new();

  ba_tlv_str(b, TFST_TLV_ORIGIN, "gw1");
  ba_tlv_u32(b, TFST_TLV_WINDOW, 65536);
  return b;
}

static void
test_open_missing(void)
{
  g_autoptr(GByteArray) empty = g_byte_array_new();
  g_autoptr(GByteArray) no_window = g_byte_array_new();
  g_autoptr(GByteArray) no_origin = g_byte_array_new();
  g_autoptr(GByteArray) minimal = open_minimal();

  expect_open(minimal, TFST_FRAME_OK);
  expect_open(empty, TFST_FRAME_E_MISSING);
  ba_tlv_str(no_window, TFST_TLV_FORWARD, "web");
  ba_tlv_str(no_window, TFST_TLV_ORIGIN, "gw1");
  ba_tlv_str(no_window, TFST_TLV_ROUTE, "gw2");
  expect_open(no_window, TFST_FRAME_E_MISSING);
  ba_tlv_str(no_origin, TFST_TLV_FORWARD, "web");
  ba_tlv_str(no_origin, TFST_TLV_LABEL, "gw1");
  ba_tlv_u32(no_origin, TFST_TLV_WINDOW, 65536);
  expect_open(no_origin, TFST_FRAME_E_MISSING);
}

static void
test_open_window(void)
{
  const guint8 bytes[8] = {0, 1, 0, 0, 0, 1, 0, 0};
  const gsize bad_lengths[] = {0, 1, 3, 5, 8};

  {
    g_autoptr(GByteArray) b = g_byte_array_new();

    ba_tlv_str(b, TFST_TLV_ORIGIN, "gw1");
    ba_tlv_u32(b, TFST_TLV_WINDOW, 0);
    expect_open(b, TFST_FRAME_E_FIELD);
  }
  for (guint i = 0; i < G_N_ELEMENTS(bad_lengths); i++) {
    g_autoptr(GByteArray) b = g_byte_array_new();

    ba_tlv_str(b, TFST_TLV_ORIGIN, "gw1");
    ba_tlv(b, TFST_TLV_WINDOW, bytes, bad_lengths[i]);
    expect_open(b, TFST_FRAME_E_FIELD);
  }
}

/* A window above 2^31-1 would overflow the signed send window the next
 * CREDIT adds to: a protocol error at the OPEN, not a hop reset later. */
static void
test_open_window_range(void)
{
  const guint32 bad[] = {0x80000000u, 0x80000001u, 0xffffffffu};

  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GByteArray) b = g_byte_array_new();

    ba_tlv_str(b, TFST_TLV_ORIGIN, "gw1");
    ba_tlv_u32(b, TFST_TLV_WINDOW, bad[i]);
    expect_open(b, TFST_FRAME_E_FIELD);
  }
}

static void
test_payload_check_open_ok(void)
{
  const guint32 good[] = {1, 65536, G_MAXINT32};
  const guint32 bad[] = {0, 0x80000000u, 0xffffffffu};
  guint8 v[4];

  for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
    tfst_test_put_be32(v, good[i]);
    expect_check(TFST_FRAME_OPEN_OK, 4, v, TFST_FRAME_OK);
  }
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    tfst_test_put_be32(v, bad[i]);
    expect_check(TFST_FRAME_OPEN_OK, 4, v, TFST_FRAME_E_FIELD);
  }
}

static void
test_open_address(void)
{
  static const struct {
    guint8 family;
    gsize alen;
  } bad[] = {
      {4, 16},
      {6, 4},
      {4, 3},
      {4, 5},
      {6, 15},
      {6, 17},
      {5, 4},
      {0, 4},
      {255, 16},
      /* The wire uses 4 and 6, never the host's AF_INET/AF_INET6 values. */
      {AF_INET, 4},
      {AF_INET6, 16},
  };
  const guint8 tags[] = {TFST_TLV_CLIENT, TFST_TLV_DEST};
  const guint8 addr[20] = {192, 0, 2, 1};

  for (guint t = 0; t < G_N_ELEMENTS(tags); t++) {
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
      g_autoptr(GByteArray) b = open_minimal();

      ba_tlv_addr(b, tags[t], bad[i].family, addr, bad[i].alen);
      expect_open(b, TFST_FRAME_E_ADDRESS);
    }
    for (gsize len = 0; len < 3; len++) {
      g_autoptr(GByteArray) b = open_minimal();

      ba_tlv(b, tags[t], (const guint8[]){4, 0, 80}, len);
      expect_open(b, TFST_FRAME_E_ADDRESS);
    }
    {
      g_autoptr(GByteArray) v4 = open_minimal();
      g_autoptr(GByteArray) v6 = open_minimal();

      ba_tlv_addr(v4, tags[t], 4, addr, 4);
      expect_open(v4, TFST_FRAME_OK);
      ba_tlv_addr(v6, tags[t], 6, addr, 16);
      expect_open(v6, TFST_FRAME_OK);
    }
  }
}

static void
test_open_labels(void)
{
  const guint8 tags[] = {TFST_TLV_FORWARD, TFST_TLV_ORIGIN, TFST_TLV_ROUTE};

  for (guint t = 0; t < G_N_ELEMENTS(tags); t++) {
    for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
      g_autoptr(GByteArray) b = open_minimal();

      ba_tlv(b, tags[t], bad_labels[i].bytes, bad_labels[i].len);
      expect_open(b, TFST_FRAME_E_LABEL);
    }
  }
}

static void
test_open_tlv(void)
{
  g_autoptr(GByteArray) prefix = open_minimal();
  g_autoptr(GPtrArray) broken = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
  g_autoptr(GByteArray) extra = g_byte_array_new();
  g_autofree guint8 *p = NULL;
  TfstOpenMsg m;

  append_broken_tlvs(broken, prefix);
  for (guint i = 0; i < broken->len; i++)
    expect_open(g_ptr_array_index(broken, i), TFST_FRAME_E_FIELD);

  /* Unknown tags are skipped; repeated fields: the last one wins. */
  ba_tlv_str(extra, 0, "");
  ba_tlv_str(extra, TFST_TLV_TEXT, "ignored");
  ba_tlv_str(extra, TFST_TLV_ORIGIN, "gw1");
  ba_tlv_u32(extra, TFST_TLV_WINDOW, 100);
  ba_tlv_str(extra, 250, "ignored");
  ba_tlv_str(extra, TFST_TLV_ORIGIN, "gw9");
  ba_tlv_u32(extra, TFST_TLV_WINDOW, 200);
  p = exact_copy(extra->data, extra->len);
  g_assert_cmpint(tfst_frame_decode_open(p, extra->len, &m), ==, TFST_FRAME_OK);
  g_assert_cmpstr(m.origin, ==, "gw9");
  g_assert_cmpuint(m.window, ==, 200);
  g_assert_cmpstr(m.forward, ==, "");
  g_assert_cmpstr(m.route, ==, "");
  g_assert_cmpint(m.client.sa.sa_family, ==, 0);
  g_assert_cmpint(m.dest.sa.sa_family, ==, 0);
}

static void
test_open_encode_session_zero(void)
{
  TfstOpenMsg m = open_full();
  guint8 buf[256];

  g_assert_cmpint(tfst_frame_encode_open(buf, sizeof(buf), 0, &m), ==, TFST_FRAME_E_SESSION);
}

/* ---- TELL / TELL_OK ---- */

static void
tell_add_chain(TfstTellMsg *m, guint8 depth, const char *label)
{
  TfstChainEntry e = {.depth = depth};

  g_strlcpy(e.label, label, sizeof(e.label));
  g_array_append_val(m->chain, e);
}

static void
tell_add_network(TfstTellMsg *m, const char *owner, int family, const char *ip, guint8 prefix)
{
  TfstNetworkEntry e = {.family = family, .prefix = prefix};

  g_strlcpy(e.owner, owner, sizeof(e.owner));
  g_assert_cmpint(inet_pton(family, ip, e.addr), ==, 1);
  g_array_append_val(m->networks, e);
}

static void
tell_add_forward(TfstTellMsg *m, const char *owner, const char *name)
{
  TfstForwardEntry e = {.owner = ""};

  g_strlcpy(e.owner, owner, sizeof(e.owner));
  g_strlcpy(e.name, name, sizeof(e.name));
  g_array_append_val(m->forwards, e);
}

static void
tell_add_link(TfstTellMsg *m, const char *upper, const char *lower)
{
  TfstLinkEntry e = {.upper = ""};

  g_strlcpy(e.upper, upper, sizeof(e.upper));
  g_strlcpy(e.lower, lower, sizeof(e.lower));
  g_array_append_val(m->links, e);
}

static void
tell_fill(TfstTellMsg *m)
{
  g_autofree char *l63 = make_label(TFST_LABEL_MAX);

  g_strlcpy(m->label, "relay1", sizeof(m->label));
  tell_add_chain(m, 0, "relay1");
  tell_add_chain(m, 1, "gw1");
  tell_add_chain(m, 1, "gw2");
  tell_add_chain(m, 2, "gw3");
  tell_add_chain(m, 255, l63);
  tell_add_network(m, "gw1", AF_INET, "10.1.0.0", 16);
  tell_add_network(m, "gw2", AF_INET, "192.168.7.1", 32);
  tell_add_network(m, "gw3", AF_INET, "0.0.0.0", 0);
  tell_add_network(m, "gw1", AF_INET6, "2001:db8:1::", 48);
  tell_add_network(m, "gw2", AF_INET6, "::1", 128);
  tell_add_network(m, l63, AF_INET6, "::", 0);
  tell_add_forward(m, "gw1", "web");
  tell_add_forward(m, "gw2", "mgmt");
  tell_add_forward(m, l63, l63);
  tell_add_link(m, "relay1", "gw1");
  tell_add_link(m, "gw1", "gw3");
  tell_add_link(m, l63, l63);
}

static void
assert_tell_equal(const TfstTellMsg *a, const TfstTellMsg *b)
{
  g_assert_cmpstr(a->label, ==, b->label);
  g_assert_cmpuint(a->chain->len, ==, b->chain->len);
  g_assert_cmpuint(a->networks->len, ==, b->networks->len);
  g_assert_cmpuint(a->forwards->len, ==, b->forwards->len);
  g_assert_cmpuint(a->links->len, ==, b->links->len);
  for (guint i = 0; i < a->links->len; i++) {
    const TfstLinkEntry *x = &g_array_index(a->links, TfstLinkEntry, i);
    const TfstLinkEntry *y = &g_array_index(b->links, TfstLinkEntry, i);

    g_assert_cmpstr(x->upper, ==, y->upper);
    g_assert_cmpstr(x->lower, ==, y->lower);
  }
  for (guint i = 0; i < a->chain->len; i++) {
    const TfstChainEntry *x = &g_array_index(a->chain, TfstChainEntry, i);
    const TfstChainEntry *y = &g_array_index(b->chain, TfstChainEntry, i);

    g_assert_cmpuint(x->depth, ==, y->depth);
    g_assert_cmpstr(x->label, ==, y->label);
  }
  for (guint i = 0; i < a->networks->len; i++) {
    const TfstNetworkEntry *x = &g_array_index(a->networks, TfstNetworkEntry, i);
    const TfstNetworkEntry *y = &g_array_index(b->networks, TfstNetworkEntry, i);
    gsize alen = x->family == AF_INET6 ? 16 : 4;

    g_assert_cmpstr(x->owner, ==, y->owner);
    g_assert_cmpuint(x->family, ==, y->family);
    g_assert_cmpuint(x->prefix, ==, y->prefix);
    g_assert_cmpmem(x->addr, alen, y->addr, alen);
  }
  for (guint i = 0; i < a->forwards->len; i++) {
    const TfstForwardEntry *x = &g_array_index(a->forwards, TfstForwardEntry, i);
    const TfstForwardEntry *y = &g_array_index(b->forwards, TfstForwardEntry, i);

    g_assert_cmpstr(x->owner, ==, y->owner);
    g_assert_cmpstr(x->name, ==, y->name);
  }
}

static void
check_tell_roundtrip(guint8 type, const TfstTellMsg *m)
{
  g_autoptr(GByteArray) frame = tfst_frame_encode_tell(type, m);
  g_autofree guint8 *p = NULL;
  g_auto(TfstTellMsg) out = {0};
  TfstFrameHeader h;

  g_assert_nonnull(frame);
  p = split_frame(frame->data, frame->len, type, 0, &h);
  tfst_tell_msg_init(&out);
  g_assert_cmpint(tfst_frame_decode_tell(p, h.length, &out), ==, TFST_FRAME_OK);
  assert_tell_equal(&out, m);
}

static void
test_tell_roundtrip(void)
{
  g_auto(TfstTellMsg) m = {0};

  tfst_tell_msg_init(&m);
  g_strlcpy(m.label, "ep", sizeof(m.label));
  check_tell_roundtrip(TFST_FRAME_TELL, &m);
  check_tell_roundtrip(TFST_FRAME_TELL_OK, &m);
  tell_fill(&m);
  check_tell_roundtrip(TFST_FRAME_TELL, &m);
  check_tell_roundtrip(TFST_FRAME_TELL_OK, &m);
}

static void
test_tell_golden(void)
{
  /* TELL from gw1: LABEL, CHAIN depth 0, NETWORK 10.1.0.0/16, FORWARD web. */
  static const guint8 golden[] = {
      1, 4, 0,  0,   0,   0,   0,   0,   0,   0,   0, 36,    /* header */
      1, 0, 3,  'g', 'w', '1',                               /* LABEL */
      3, 0, 4,  0,   'g', 'w', '1',                          /* CHAIN */
      4, 0, 10, 3,   'g', 'w', '1', 4,   16,  10,  1, 0,  0, /* NETWORK */
      5, 0, 7,  3,   'g', 'w', '1', 'w', 'e', 'b',           /* FORWARD */
  };
  g_auto(TfstTellMsg) m = {0};
  g_autoptr(GByteArray) frame = NULL;

  tfst_tell_msg_init(&m);
  g_strlcpy(m.label, "gw1", sizeof(m.label));
  tell_add_chain(&m, 0, "gw1");
  tell_add_network(&m, "gw1", AF_INET, "10.1.0.0", 16);
  tell_add_forward(&m, "gw1", "web");
  frame = tfst_frame_encode_tell(TFST_FRAME_TELL, &m);
  g_assert_nonnull(frame);
  g_assert_cmpmem(frame->data, frame->len, golden, sizeof(golden));
}

/* The TELL_OK example of docs/protocol.md §9: relay r1 below ep, which
 * serves the forward web. */
static void
test_tell_ok_golden(void)
{
  static const guint8 golden[] = {
      1,  5, 0, 0,   0,   0,   0,   0,   0,   0, 0, 38, /* header */
      1,  0, 2, 'r', '1',                               /* LABEL */
      3,  0, 3, 0,   'r', '1',                          /* CHAIN */
      3,  0, 3, 1,   'e', 'p',                          /* CHAIN */
      13, 0, 5, 2,   'e', 'p', 'r', '1',                /* LINK */
      5,  0, 6, 2,   'e', 'p', 'w', 'e', 'b',           /* FORWARD */
      12, 0, 1, 1,                                      /* ROOTED */
  };
  g_auto(TfstTellMsg) m = {0};
  g_auto(TfstTellMsg) out = {0};
  g_autoptr(GByteArray) frame = NULL;

  tfst_tell_msg_init(&m);
  tfst_tell_msg_init(&out);
  g_strlcpy(m.label, "r1", sizeof(m.label));
  tell_add_chain(&m, 0, "r1");
  tell_add_chain(&m, 1, "ep");
  tell_add_link(&m, "ep", "r1");
  tell_add_forward(&m, "ep", "web");
  m.rooted = TRUE;
  frame = tfst_frame_encode_tell(TFST_FRAME_TELL_OK, &m);
  g_assert_nonnull(frame);
  g_assert_cmpmem(frame->data, frame->len, golden, sizeof(golden));
  g_assert_cmpint(tfst_frame_decode_tell(golden + 12, sizeof(golden) - 12, &out), ==,
                  TFST_FRAME_OK);
  assert_tell_equal(&out, &m);
  g_assert_true(out.rooted);
}

/* Decoding into a message that already holds entries replaces them. */
static void
test_tell_reuse(void)
{
  g_auto(TfstTellMsg) full = {0};
  g_auto(TfstTellMsg) out = {0};
  g_autoptr(GByteArray) f1 = NULL;
  g_autoptr(GByteArray) small = g_byte_array_new();

  tfst_tell_msg_init(&full);
  tfst_tell_msg_init(&out);
  tell_fill(&full);
  f1 = tfst_frame_encode_tell(TFST_FRAME_TELL, &full);
  g_assert_cmpint(tfst_frame_decode_tell(f1->data + TFST_FRAME_HEADER_SIZE,
                                         f1->len - TFST_FRAME_HEADER_SIZE, &out),
                  ==, TFST_FRAME_OK);
  g_assert_cmpuint(out.chain->len, ==, 5);
  ba_tlv_str(small, TFST_TLV_LABEL, "gw9");
  g_assert_cmpint(tfst_frame_decode_tell(small->data, small->len, &out), ==, TFST_FRAME_OK);
  g_assert_cmpstr(out.label, ==, "gw9");
  g_assert_cmpuint(out.chain->len, ==, 0);
  g_assert_cmpuint(out.networks->len, ==, 0);
  g_assert_cmpuint(out.forwards->len, ==, 0);
}

static GByteArray *
tell_prefix(void)
{
  GByteArray *b = g_byte_array_new();

  ba_tlv_str(b, TFST_TLV_LABEL, "relay1");
  return b;
}

static void
test_tell_label(void)
{
  g_autoptr(GByteArray) no_label = g_byte_array_new();
  g_autoptr(GByteArray) unknown = g_byte_array_new();
  g_autoptr(GPtrArray) broken = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
  g_autoptr(GByteArray) prefix = tell_prefix();

  ba_tlv(no_label, TFST_TLV_CHAIN, "\1gw1", 4);
  expect_tell(no_label, TFST_FRAME_E_MISSING);
  ba_tlv_str(unknown, 99, "relay1");
  expect_tell(unknown, TFST_FRAME_E_MISSING);
  for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
    g_autoptr(GByteArray) b = g_byte_array_new();

    ba_tlv(b, TFST_TLV_LABEL, bad_labels[i].bytes, bad_labels[i].len);
    expect_tell(b, TFST_FRAME_E_LABEL);
  }
  append_broken_tlvs(broken, prefix);
  for (guint i = 0; i < broken->len; i++)
    expect_tell(g_ptr_array_index(broken, i), TFST_FRAME_E_FIELD);
}

static void
test_tell_chain(void)
{
  g_autofree char *l64 = make_label(TFST_LABEL_MAX + 1);

  for (gsize len = 0; len < 2; len++) {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv(b, TFST_TLV_CHAIN, "\1", len);
    expect_tell(b, TFST_FRAME_E_FIELD);
  }
  for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
    g_autoptr(GByteArray) b = tell_prefix();
    g_autoptr(GByteArray) v = g_byte_array_new();

    if (bad_labels[i].len == 0)
      continue; /* depth alone is the short-value case above */
    ba_u8(v, 1);
    ba_bytes(v, bad_labels[i].bytes, bad_labels[i].len);
    ba_tlv(b, TFST_TLV_CHAIN, v->data, v->len);
    expect_tell(b, TFST_FRAME_E_LABEL);
  }
  {
    g_autoptr(GByteArray) b = tell_prefix();
    g_autoptr(GByteArray) v = g_byte_array_new();

    ba_u8(v, 1);
    ba_bytes(v, l64, strlen(l64));
    ba_tlv(b, TFST_TLV_CHAIN, v->data, v->len);
    expect_tell(b, TFST_FRAME_E_LABEL);
  }
}

static void
add_network_raw(GByteArray *b, const char *owner, guint8 family, guint8 prefix, gsize alen)
{
  guint8 rest[2 + 32] = {family, prefix, 10, 1};

  g_assert_cmpuint(alen, <=, 32);
  ba_tlv_owned(b, TFST_TLV_NETWORK, owner, rest, 2 + alen);
}

static void
test_tell_network(void)
{
  static const struct {
    guint8 family;
    guint8 prefix;
    gsize alen;
    int expected;
  } cases[] = {
      {4, 0, 4, TFST_FRAME_OK},
      {4, 32, 4, TFST_FRAME_OK},
      {6, 0, 16, TFST_FRAME_OK},
      {6, 128, 16, TFST_FRAME_OK},
      {4, 33, 4, TFST_FRAME_E_ADDRESS},
      {4, 64, 4, TFST_FRAME_E_ADDRESS},
      {4, 128, 4, TFST_FRAME_E_ADDRESS},
      {4, 255, 4, TFST_FRAME_E_ADDRESS},
      {6, 129, 16, TFST_FRAME_E_ADDRESS},
      {6, 255, 16, TFST_FRAME_E_ADDRESS},
      {4, 24, 0, TFST_FRAME_E_ADDRESS},
      {4, 24, 3, TFST_FRAME_E_ADDRESS},
      {4, 24, 5, TFST_FRAME_E_ADDRESS},
      {4, 24, 16, TFST_FRAME_E_ADDRESS},
      {6, 64, 4, TFST_FRAME_E_ADDRESS},
      {6, 64, 15, TFST_FRAME_E_ADDRESS},
      {6, 64, 17, TFST_FRAME_E_ADDRESS},
      {0, 0, 4, TFST_FRAME_E_ADDRESS},
      {5, 0, 4, TFST_FRAME_E_ADDRESS},
      {AF_INET, 24, 4, TFST_FRAME_E_ADDRESS},
      {AF_INET6, 64, 16, TFST_FRAME_E_ADDRESS},
      {255, 0, 16, TFST_FRAME_E_ADDRESS},
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GByteArray) b = tell_prefix();

    add_network_raw(b, "gw1", cases[i].family, cases[i].prefix, cases[i].alen);
    expect_tell(b, cases[i].expected);
  }
}

static void
test_tell_network_owner(void)
{
  const guint8 rest[6] = {4, 8, 10, 0, 0, 0};
  /* Empty value, and owner lengths pointing past the value. */
  const guint8 *short_values[] = {(const guint8 *)"", (const guint8 *)"\4gw1",
                                  (const guint8 *)"\377gw1"};
  const gsize short_lens[] = {0, 4, 4};

  for (guint i = 0; i < G_N_ELEMENTS(short_values); i++) {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv(b, TFST_TLV_NETWORK, short_values[i], short_lens[i]);
    expect_tell(b, TFST_FRAME_E_FIELD);
  }
  /* Fewer than family + prefix bytes after a good owner. */
  for (gsize n = 0; n < 2; n++) {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv_owned(b, TFST_TLV_NETWORK, "gw1", rest, n);
    expect_tell(b, TFST_FRAME_E_FIELD);
  }
  for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
    g_autoptr(GByteArray) b = tell_prefix();
    g_autoptr(GByteArray) v = g_byte_array_new();

    ba_u8(v, (guint8)bad_labels[i].len);
    ba_bytes(v, bad_labels[i].bytes, bad_labels[i].len);
    ba_bytes(v, rest, sizeof(rest));
    ba_tlv(b, TFST_TLV_NETWORK, v->data, v->len);
    expect_tell(b, TFST_FRAME_E_LABEL);
  }
}

static void
test_tell_forward(void)
{
  g_autofree char *l64 = make_label(TFST_LABEL_MAX + 1);

  {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv(b, TFST_TLV_FORWARD, "", 0);
    expect_tell(b, TFST_FRAME_E_FIELD);
  }
  {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv(b, TFST_TLV_FORWARD, "\5gw1", 4);
    expect_tell(b, TFST_FRAME_E_FIELD);
  }
  for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
    g_autoptr(GByteArray) bad_owner = tell_prefix();
    g_autoptr(GByteArray) bad_name = tell_prefix();
    g_autoptr(GByteArray) v = g_byte_array_new();

    ba_u8(v, (guint8)bad_labels[i].len);
    ba_bytes(v, bad_labels[i].bytes, bad_labels[i].len);
    ba_bytes(v, "web", 3);
    ba_tlv(bad_owner, TFST_TLV_FORWARD, v->data, v->len);
    expect_tell(bad_owner, TFST_FRAME_E_LABEL);
    /* Includes the empty name: an owner with nothing after it. */
    ba_tlv_owned(bad_name, TFST_TLV_FORWARD, "gw1", bad_labels[i].bytes, bad_labels[i].len);
    expect_tell(bad_name, TFST_FRAME_E_LABEL);
  }
  {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv_owned(b, TFST_TLV_FORWARD, "gw1", l64, strlen(l64));
    expect_tell(b, TFST_FRAME_E_LABEL);
  }
}

/* LINK is owner-prefixed like FORWARD: the upper label, then the lower. */
static void
test_tell_link(void)
{
  g_autofree char *l64 = make_label(TFST_LABEL_MAX + 1);

  {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv(b, TFST_TLV_LINK, "", 0);
    expect_tell(b, TFST_FRAME_E_FIELD);
  }
  {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv(b, TFST_TLV_LINK, "\5gw1", 4);
    expect_tell(b, TFST_FRAME_E_FIELD);
  }
  for (guint i = 0; i < G_N_ELEMENTS(bad_labels); i++) {
    g_autoptr(GByteArray) bad_lower = tell_prefix();

    ba_tlv_owned(bad_lower, TFST_TLV_LINK, "relay1", bad_labels[i].bytes, bad_labels[i].len);
    expect_tell(bad_lower, TFST_FRAME_E_LABEL);
  }
  {
    g_autoptr(GByteArray) b = tell_prefix();

    ba_tlv_owned(b, TFST_TLV_LINK, "relay1", l64, strlen(l64));
    expect_tell(b, TFST_FRAME_E_LABEL);
  }
}

static void
test_tell_unknown_tlv(void)
{
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_autofree guint8 *p = NULL;
  g_auto(TfstTellMsg) m = {0};

  ba_tlv_str(b, 0, "");
  ba_tlv_str(b, TFST_TLV_WINDOW, "x");
  ba_tlv_str(b, TFST_TLV_LABEL, "old");
  ba_tlv(b, TFST_TLV_CHAIN, "\0gw1", 4);
  ba_tlv_str(b, 200, "future");
  ba_tlv(b, TFST_TLV_CHAIN, "\1gw2", 4);
  ba_tlv_str(b, TFST_TLV_LABEL, "new");
  p = exact_copy(b->data, b->len);
  tfst_tell_msg_init(&m);
  g_assert_cmpint(tfst_frame_decode_tell(p, b->len, &m), ==, TFST_FRAME_OK);
  g_assert_cmpstr(m.label, ==, "new");
  /* CHAIN, NETWORK and FORWARD are repeated entries, kept in order. */
  g_assert_cmpuint(m.chain->len, ==, 2);
  g_assert_cmpstr(g_array_index(m.chain, TfstChainEntry, 0).label, ==, "gw1");
  g_assert_cmpuint(g_array_index(m.chain, TfstChainEntry, 1).depth, ==, 1);
}

static void
test_tell_too_big(void)
{
  g_auto(TfstTellMsg) m = {0};
  g_autoptr(GByteArray) frame = NULL;
  g_autofree char *l63 = make_label(TFST_LABEL_MAX);
  /* Each such FORWARD entry takes 3 + 1 + 63 + 63 bytes. */
  guint fit = (TFST_FRAME_MAX_PAYLOAD - (3 + 6)) / (4 + 2 * TFST_LABEL_MAX);

  tfst_tell_msg_init(&m);
  g_strlcpy(m.label, "relay1", sizeof(m.label));
  for (guint i = 0; i < fit; i++)
    tell_add_forward(&m, l63, l63);
  frame = tfst_frame_encode_tell(TFST_FRAME_TELL, &m);
  g_assert_nonnull(frame);
  g_assert_cmpuint(frame->len, <=, TFST_FRAME_HEADER_SIZE + TFST_FRAME_MAX_PAYLOAD);
  check_tell_roundtrip(TFST_FRAME_TELL_OK, &m);
  g_clear_pointer(&frame, g_byte_array_unref);

  tell_add_forward(&m, l63, l63);
  frame = tfst_frame_encode_tell(TFST_FRAME_TELL, &m);
  g_assert_null(frame);
}

static void
test_tell_encode_type(void)
{
  g_auto(TfstTellMsg) m = {0};

  tfst_tell_msg_init(&m);
  g_strlcpy(m.label, "relay1", sizeof(m.label));
  /* "tfstd" is the log domain the daemon library is built with. */
  g_test_expect_message("tfstd", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_null(tfst_frame_encode_tell(TFST_FRAME_OPEN, &m));
  g_test_assert_expected_messages();
}

/* ---- GOAWAY ---- */

static void
check_goaway_roundtrip(guint32 reason, const char *text, const char *expected_text)
{
  g_autofree guint8 *p = NULL;
  g_autofree guint8 *buf = g_malloc(TFST_FRAME_HEADER_SIZE + 4 + 3 + 70000);
  g_autofree char *out = g_malloc(70000);
  TfstFrameHeader h;
  guint32 r = 0;
  gssize n;

  n = tfst_frame_encode_goaway(buf, TFST_FRAME_HEADER_SIZE + 4 + 3 + 70000, reason, text);
  g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE + 4 + (text != NULL ? 3 + strlen(text) : 0));
  p = split_frame(buf, n, TFST_FRAME_GOAWAY, 0, &h);
  g_assert_cmpint(tfst_frame_decode_goaway(p, h.length, &r, out, 70000), ==, TFST_FRAME_OK);
  g_assert_cmpuint(r, ==, reason);
  g_assert_cmpstr(out, ==, expected_text);
}

static void
test_goaway_roundtrip(void)
{
  static const guint8 golden[] = {1,  15, 0, 0, 0, 0,  0, 0, 0,   0,   0,
                                  10, 0,  0, 0, 1, 11, 0, 3, 'b', 'y', 'e'};
  g_autofree char *big = g_strnfill(G_MAXUINT16, 'x');
  guint8 buf[64];

  check_goaway_roundtrip(0, NULL, "");
  check_goaway_roundtrip(1, "", "");
  check_goaway_roundtrip(7, "shutting down", "shutting down");
  check_goaway_roundtrip(0xffffffff, "~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
                         "~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}");
  check_goaway_roundtrip(2, big, big);
  g_assert_cmpint(tfst_frame_encode_goaway(buf, sizeof(buf), 1, "bye"), ==, sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
}

static void
test_goaway_sanitise(void)
{
  /* Control bytes, DEL, bytes >= 0x80 (also valid UTF-8) and NUL all become
   * '?', so a peer cannot inject lines or escapes into our log. */
  static const char raw[] = "a\nb\tc\x01"
                            "d\x7f\x80\xff"
                            "e\r\x1b[31m\xc3\xa9\0z";
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_autofree guint8 *p = NULL;
  guint32 reason = 0;
  char text[64];

  ba_u32(b, 3);
  ba_tlv(b, TFST_TLV_TEXT, raw, sizeof(raw) - 1);
  p = exact_copy(b->data, b->len);
  g_assert_cmpint(tfst_frame_decode_goaway(p, b->len, &reason, text, sizeof(text)), ==,
                  TFST_FRAME_OK);
  g_assert_cmpuint(reason, ==, 3);
  g_assert_cmpstr(text, ==, "a?b?c?d???e??[31m???z");
  check_goaway_roundtrip(4, "tab\there", "tab?here");
}

static void
test_goaway_text_cap(void)
{
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_autofree guint8 *p = NULL;
  guint32 reason = 0;
  char text[8];

  ba_u32(b, 9);
  ba_tlv_str(b, TFST_TLV_TEXT, "abcdefghijkl");
  p = exact_copy(b->data, b->len);

  memset(text, 'Z', sizeof(text));
  g_assert_cmpint(tfst_frame_decode_goaway(p, b->len, &reason, text, 4), ==, TFST_FRAME_OK);
  g_assert_cmpstr(text, ==, "abc");
  g_assert_cmpuint((guint8)text[4], ==, 'Z');
  g_assert_cmpint(tfst_frame_decode_goaway(p, b->len, &reason, text, 1), ==, TFST_FRAME_OK);
  g_assert_cmpstr(text, ==, "");
  /* No text buffer at all: the reason alone is still decoded. */
  reason = 0;
  g_assert_cmpint(tfst_frame_decode_goaway(p, b->len, &reason, NULL, 0), ==, TFST_FRAME_OK);
  g_assert_cmpuint(reason, ==, 9);
}

static void
test_goaway_errors(void)
{
  g_autoptr(GByteArray) prefix = g_byte_array_new();
  g_autoptr(GPtrArray) broken = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
  g_autoptr(GByteArray) multi = g_byte_array_new();
  g_autofree guint8 *p = NULL;
  guint32 reason;
  char text[16];

  ba_u32(prefix, 5);
  for (guint len = 0; len < 4; len++) {
    g_autoptr(GByteArray) b = g_byte_array_new();

    ba_bytes(b, prefix->data, len);
    expect_goaway(b, TFST_FRAME_E_PAYLOAD);
  }
  expect_goaway(prefix, TFST_FRAME_OK);
  append_broken_tlvs(broken, prefix);
  for (guint i = 0; i < broken->len; i++)
    expect_goaway(g_ptr_array_index(broken, i), TFST_FRAME_E_FIELD);

  /* Unknown tags are skipped; of several TEXT fields the last wins. */
  ba_u32(multi, 6);
  ba_tlv_str(multi, TFST_TLV_TEXT, "first");
  ba_tlv_str(multi, TFST_TLV_LABEL, "ep");
  ba_tlv_str(multi, 180, "??");
  ba_tlv_str(multi, TFST_TLV_TEXT, "last");
  p = exact_copy(multi->data, multi->len);
  g_assert_cmpint(tfst_frame_decode_goaway(p, multi->len, &reason, text, sizeof(text)), ==,
                  TFST_FRAME_OK);
  g_assert_cmpuint(reason, ==, 6);
  g_assert_cmpstr(text, ==, "last");
}

static void
test_goaway_text_too_long(void)
{
  g_autofree char *text = g_strnfill(G_MAXUINT16 + 1, 'x');
  g_autofree guint8 *buf = g_malloc(2 * G_MAXUINT16);

  g_assert_cmpint(tfst_frame_encode_goaway(buf, 2 * G_MAXUINT16, 1, text), ==, TFST_FRAME_E_SPACE);
}

/* ---- encoder output space ---- */

typedef gssize (*EncodeFunc)(guint8 *buf, gsize cap);

static gssize
enc_hello(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_hello(buf, cap, 2, "gw1", 0);
}

static gssize
enc_who(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_empty(buf, cap, TFST_FRAME_WHO, 0);
}

static gssize
enc_fin(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_empty(buf, cap, TFST_FRAME_FIN, 9);
}

static gssize
enc_credit(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_u32(buf, cap, TFST_FRAME_CREDIT, 9, 4096);
}

static gssize
enc_ping(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_u64(buf, cap, TFST_FRAME_PING, 0x1122334455667788ull);
}

static gssize
enc_iam(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_iam(buf, cap, "relay1");
}

static gssize
enc_open(guint8 *buf, gsize cap)
{
  TfstOpenMsg m = open_full();

  return tfst_frame_encode_open(buf, cap, 3, &m);
}

static gssize
enc_goaway(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_goaway(buf, cap, 1, "shutting down");
}

static gssize
enc_goaway_bare(guint8 *buf, gsize cap)
{
  return tfst_frame_encode_goaway(buf, cap, 1, NULL);
}

/* Every capacity below the frame size, header-sized and smaller included,
 * is refused without writing past cap; the exact size works. */
static void
test_encode_space(void)
{
  const EncodeFunc encoders[] = {enc_hello, enc_who,  enc_fin,    enc_credit,     enc_ping,
                                 enc_iam,   enc_open, enc_goaway, enc_goaway_bare};

  for (guint e = 0; e < G_N_ELEMENTS(encoders); e++) {
    guint8 full[512];
    gssize n = encoders[e](full, sizeof(full));

    g_assert_cmpint(n, >=, TFST_FRAME_HEADER_SIZE);
    for (gsize cap = 0; cap < (gsize)n; cap++) {
      g_autofree guint8 *buf = g_malloc(n + 16);

      memset(buf, 0xee, n + 16);
      g_assert_cmpint(encoders[e](buf, cap), ==, TFST_FRAME_E_SPACE);
      for (gsize i = cap; i < (gsize)n + 16; i++)
        g_assert_cmpuint(buf[i], ==, 0xee);
    }
    {
      g_autofree guint8 *buf = g_malloc(n);

      g_assert_cmpint(encoders[e](buf, n), ==, n);
      g_assert_cmpmem(buf, n, full, n);
    }
  }
}

/* ---- stream reading ---- */

/* What a hop reader does with the bytes it has: returns how many bytes form
 * complete, valid frames and counts them; never sees an error here. */
static gsize
read_stream(const guint8 *buf, gsize len, guint *n_frames, guint8 *types)
{
  gsize off = 0;

  *n_frames = 0;
  while (off < len) {
    TfstFrameHeader h;
    g_autofree guint8 *p = NULL;
    int r = tfst_frame_header_decode(buf + off, len - off, &h);

    if (r == TFST_FRAME_E_TRUNCATED)
      return off;
    g_assert_cmpint(r, ==, TFST_FRAME_OK);
    if (len - off - TFST_FRAME_HEADER_SIZE < h.length)
      return off;
    p = exact_copy(buf + off + TFST_FRAME_HEADER_SIZE, h.length);
    g_assert_cmpint(tfst_frame_payload_check(&h, p), ==, TFST_FRAME_OK);
    types[(*n_frames)++] = h.type;
    off += TFST_FRAME_HEADER_SIZE + h.length;
  }
  return off;
}

static void
append_encoded(GByteArray *stream, GArray *ends, const guint8 *frame, gssize n)
{
  gsize end;

  g_assert_cmpint(n, >, 0);
  ba_bytes(stream, frame, n);
  end = stream->len;
  g_array_append_val(ends, end);
}

static GByteArray *
build_corpus_stream(GArray *ends)
{
  GByteArray *s = g_byte_array_new();
  g_auto(TfstTellMsg) tell = {0};
  g_autoptr(GByteArray) t1 = NULL;
  g_autoptr(GByteArray) t2 = NULL;
  TfstOpenMsg open = open_full();
  guint8 buf[512];

  tfst_tell_msg_init(&tell);
  tell_fill(&tell);
  t1 = tfst_frame_encode_tell(TFST_FRAME_TELL, &tell);
  t2 = tfst_frame_encode_tell(TFST_FRAME_TELL_OK, &tell);
  append_encoded(s, ends, buf,
                 tfst_frame_encode_hello(buf, sizeof(buf), 3, "relay1", TFST_FEATURES_OURS));
  append_encoded(s, ends, buf, tfst_frame_encode_empty(buf, sizeof(buf), TFST_FRAME_WHO, 0));
  append_encoded(s, ends, buf, tfst_frame_encode_iam(buf, sizeof(buf), "relay1"));
  append_encoded(s, ends, t1->data, t1->len);
  append_encoded(s, ends, t2->data, t2->len);
  append_encoded(s, ends, buf, tfst_frame_encode_open(buf, sizeof(buf), 1, &open));
  append_encoded(s, ends, buf,
                 tfst_frame_encode_u32(buf, sizeof(buf), TFST_FRAME_OPEN_OK, 1, 65536));
  tfst_frame_header_encode(buf, TFST_FRAME_DATA, 1, 100);
  memset(buf + TFST_FRAME_HEADER_SIZE, 'd', 100);
  append_encoded(s, ends, buf, TFST_FRAME_HEADER_SIZE + 100);
  append_encoded(s, ends, buf, tfst_frame_encode_u32(buf, sizeof(buf), TFST_FRAME_CREDIT, 1, 100));
  append_encoded(s, ends, buf, tfst_frame_encode_empty(buf, sizeof(buf), TFST_FRAME_FIN, 1));
  append_encoded(s, ends, buf,
                 tfst_frame_encode_u32(buf, sizeof(buf), TFST_FRAME_RST, 1, ECONNRESET));
  append_encoded(s, ends, buf,
                 tfst_frame_encode_u32(buf, sizeof(buf), TFST_FRAME_OPEN_FAIL, 2, ECONNREFUSED));
  append_encoded(s, ends, buf, tfst_frame_encode_u64(buf, sizeof(buf), TFST_FRAME_PING, 42));
  append_encoded(s, ends, buf, tfst_frame_encode_u64(buf, sizeof(buf), TFST_FRAME_PONG, 42));
  append_encoded(s, ends, buf, tfst_frame_encode_goaway(buf, sizeof(buf), 0, "bye"));
  return s;
}

static void
test_stream(void)
{
  static const guint8 order[] = {
      TFST_FRAME_HELLO,   TFST_FRAME_WHO,  TFST_FRAME_IAM,     TFST_FRAME_TELL,
      TFST_FRAME_TELL_OK, TFST_FRAME_OPEN, TFST_FRAME_OPEN_OK, TFST_FRAME_DATA,
      TFST_FRAME_CREDIT,  TFST_FRAME_FIN,  TFST_FRAME_RST,     TFST_FRAME_OPEN_FAIL,
      TFST_FRAME_PING,    TFST_FRAME_PONG, TFST_FRAME_GOAWAY,
  };
  g_autoptr(GArray) ends = g_array_new(FALSE, FALSE, sizeof(gsize));
  g_autoptr(GByteArray) s = build_corpus_stream(ends);
  guint8 types[G_N_ELEMENTS(order)];
  guint n_frames;

  g_assert_cmpuint(ends->len, ==, G_N_ELEMENTS(order));
  g_assert_cmpuint(read_stream(s->data, s->len, &n_frames, types), ==, s->len);
  g_assert_cmpmem(types, n_frames, order, sizeof(order));

  /* Cut at every byte: exactly the frames that ended before the cut are
   * read, everything else waits for more bytes. */
  for (gsize cut = 0; cut <= s->len; cut++) {
    g_autofree guint8 *prefix = exact_copy(s->data, cut);
    gsize expect_off = 0;
    guint expect_frames = 0;

    while (expect_frames < ends->len && g_array_index(ends, gsize, expect_frames) <= cut)
      expect_off = g_array_index(ends, gsize, expect_frames++);
    g_assert_cmpuint(read_stream(prefix, cut, &n_frames, types), ==, expect_off);
    g_assert_cmpuint(n_frames, ==, expect_frames);
  }
}

/* ---- fuzzing ---- */

static const int header_codes[] = {
    TFST_FRAME_OK,         TFST_FRAME_E_TRUNCATED, TFST_FRAME_E_VERSION, TFST_FRAME_E_TYPE,
    TFST_FRAME_E_OVERSIZE, TFST_FRAME_E_FLAGS,     TFST_FRAME_E_SESSION};
static const int check_codes[] = {TFST_FRAME_OK, TFST_FRAME_E_PAYLOAD, TFST_FRAME_E_FIELD};
static const int hello_codes[] = {TFST_FRAME_OK,        TFST_FRAME_E_PAYLOAD, TFST_FRAME_E_MAGIC,
                                  TFST_FRAME_E_VERSION, TFST_FRAME_E_FIELD,   TFST_FRAME_E_LABEL,
                                  TFST_FRAME_E_MISSING};
static const int iam_codes[] = {TFST_FRAME_OK, TFST_FRAME_E_FIELD, TFST_FRAME_E_LABEL,
                                TFST_FRAME_E_MISSING};
static const int open_codes[] = {TFST_FRAME_OK, TFST_FRAME_E_FIELD, TFST_FRAME_E_LABEL,
                                 TFST_FRAME_E_ADDRESS, TFST_FRAME_E_MISSING};
static const int tell_codes[] = {TFST_FRAME_OK, TFST_FRAME_E_FIELD, TFST_FRAME_E_LABEL,
                                 TFST_FRAME_E_ADDRESS, TFST_FRAME_E_MISSING};
static const int goaway_codes[] = {TFST_FRAME_OK, TFST_FRAME_E_PAYLOAD, TFST_FRAME_E_FIELD};
static const int event_codes[] = {TFST_FRAME_OK, TFST_FRAME_E_PAYLOAD, TFST_FRAME_E_FIELD,
                                  TFST_FRAME_E_LABEL, TFST_FRAME_E_MISSING};

#define assert_status_in(r, set) assert_status_in_(r, set, G_N_ELEMENTS(set), #set)

static void
assert_status_in_(int r, const int *set, gsize n, const char *name)
{
  gboolean found = FALSE;

  for (gsize i = 0; i < n; i++)
    found = found || set[i] == r;
  if (!found)
    g_test_message("status %d (%s) not in %s", r, tfst_frame_strerror(r), name);
  g_assert_true(found);
}

typedef struct {
  guint decoded[TFST_FRAME_TYPE_LAST + 1];
  guint accepted[TFST_FRAME_TYPE_LAST + 1];
  guint header_ok;
} FuzzStats;

/* Whatever a decoder accepts must be well-formed and survive our own
 * encoder unchanged: the peer will see exactly what we understood. */
static int
fuzz_hello(const guint8 *p, guint32 len)
{
  TfstHelloMsg m, again;
  guint8 buf[128];
  gssize n;
  int r = tfst_frame_decode_hello(p, len, &m);

  assert_status_in(r, hello_codes);
  if (r != TFST_FRAME_OK)
    return r;
  g_assert_true(m.min_version <= TFST_PROTO_VERSION && m.max_version >= TFST_PROTO_VERSION);
  g_assert_true(m.role >= 1 && m.role <= 3);
  g_assert_true(tfst_label_is_valid(m.label));
  n = tfst_frame_encode_hello(buf, sizeof(buf), m.role, m.label, m.features);
  g_assert_cmpint(n, >, TFST_FRAME_HEADER_SIZE);
  g_assert_cmpint(
      tfst_frame_decode_hello(buf + TFST_FRAME_HEADER_SIZE, n - TFST_FRAME_HEADER_SIZE, &again), ==,
      TFST_FRAME_OK);
  g_assert_cmpuint(again.role, ==, m.role);
  g_assert_cmpstr(again.label, ==, m.label);
  return r;
}

static int
fuzz_iam(const guint8 *p, guint32 len)
{
  char label[TFST_LABEL_MAX + 1], again[TFST_LABEL_MAX + 1];
  guint8 buf[128];
  gssize n;
  int r = tfst_frame_decode_iam(p, len, label);

  assert_status_in(r, iam_codes);
  if (r != TFST_FRAME_OK)
    return r;
  g_assert_true(tfst_label_is_valid(label));
  n = tfst_frame_encode_iam(buf, sizeof(buf), label);
  g_assert_cmpint(n, >, TFST_FRAME_HEADER_SIZE);
  g_assert_cmpint(
      tfst_frame_decode_iam(buf + TFST_FRAME_HEADER_SIZE, n - TFST_FRAME_HEADER_SIZE, again), ==,
      TFST_FRAME_OK);
  g_assert_cmpstr(again, ==, label);
  return r;
}

static void
assert_optional_label(const char *label)
{
  g_assert_true(label[0] == '\0' || tfst_label_is_valid(label));
}

static int
fuzz_open(const guint8 *p, guint32 len)
{
  TfstOpenMsg m, again;
  guint8 buf[512];
  gssize n;
  int r = tfst_frame_decode_open(p, len, &m);

  assert_status_in(r, open_codes);
  if (r != TFST_FRAME_OK)
    return r;
  g_assert_cmpuint(m.window, !=, 0);
  g_assert_true(tfst_label_is_valid(m.origin));
  assert_optional_label(m.forward);
  assert_optional_label(m.route);
  g_assert_true(m.client.sa.sa_family == 0 || m.client.sa.sa_family == AF_INET ||
                m.client.sa.sa_family == AF_INET6);
  g_assert_true(m.dest.sa.sa_family == 0 || m.dest.sa.sa_family == AF_INET ||
                m.dest.sa.sa_family == AF_INET6);
  n = tfst_frame_encode_open(buf, sizeof(buf), 1, &m);
  g_assert_cmpint(n, >, TFST_FRAME_HEADER_SIZE);
  g_assert_cmpint(
      tfst_frame_decode_open(buf + TFST_FRAME_HEADER_SIZE, n - TFST_FRAME_HEADER_SIZE, &again), ==,
      TFST_FRAME_OK);
  assert_open_equal(&again, &m);
  return r;
}

static void
assert_tell_valid(const TfstTellMsg *m)
{
  g_assert_true(tfst_label_is_valid(m->label));
  for (guint i = 0; i < m->chain->len; i++)
    g_assert_true(tfst_label_is_valid(g_array_index(m->chain, TfstChainEntry, i).label));
  for (guint i = 0; i < m->networks->len; i++) {
    const TfstNetworkEntry *e = &g_array_index(m->networks, TfstNetworkEntry, i);

    g_assert_true(tfst_label_is_valid(e->owner));
    g_assert_true((e->family == AF_INET && e->prefix <= 32) ||
                  (e->family == AF_INET6 && e->prefix <= 128));
  }
  for (guint i = 0; i < m->forwards->len; i++) {
    const TfstForwardEntry *e = &g_array_index(m->forwards, TfstForwardEntry, i);

    g_assert_true(tfst_label_is_valid(e->owner));
    g_assert_true(tfst_label_is_valid(e->name));
  }
}

static int
fuzz_tell(guint8 type, const guint8 *p, guint32 len)
{
  g_auto(TfstTellMsg) m = {0};
  g_auto(TfstTellMsg) again = {0};
  g_autoptr(GByteArray) frame = NULL;
  int r;

  tfst_tell_msg_init(&m);
  r = tfst_frame_decode_tell(p, len, &m);
  assert_status_in(r, tell_codes);
  if (r != TFST_FRAME_OK)
    return r;
  assert_tell_valid(&m);
  frame = tfst_frame_encode_tell(type, &m);
  g_assert_nonnull(frame);
  tfst_tell_msg_init(&again);
  g_assert_cmpint(tfst_frame_decode_tell(frame->data + TFST_FRAME_HEADER_SIZE,
                                         frame->len - TFST_FRAME_HEADER_SIZE, &again),
                  ==, TFST_FRAME_OK);
  assert_tell_equal(&again, &m);
  return r;
}

static int
fuzz_goaway(const guint8 *p, guint32 len)
{
  guint32 reason;
  char text[32];
  int r = tfst_frame_decode_goaway(p, len, &reason, text, sizeof(text));

  assert_status_in(r, goaway_codes);
  if (r != TFST_FRAME_OK)
    return r;
  g_assert_cmpuint(strlen(text), <, sizeof(text));
  for (const char *c = text; *c != '\0'; c++)
    g_assert_true(g_ascii_isprint(*c));
  return r;
}

/* An accepted batch walks to its count and re-encodes to the same bytes. */
static int
fuzz_event(const guint8 *p, guint32 len)
{
  TfstEventMsg m;
  g_autofree guint8 *buf = NULL;
  gsize off = 0, elen;
  const guint8 *data;
  gssize used;
  guint n = 0;
  int r = tfst_frame_decode_event(p, len, &m);

  assert_status_in(r, event_codes);
  if (r != TFST_FRAME_OK)
    return r;
  buf = g_malloc(TFST_FRAME_HEADER_SIZE + len);
  used = tfst_frame_event_begin(buf, TFST_FRAME_HEADER_SIZE + len, &m.stream, m.base, m.first);
  while (tfst_frame_event_next(&m, &off, &data, &elen)) {
    g_assert_true(elen >= 1 && elen <= TFST_EVENT_MAX);
    used = tfst_frame_event_add(buf, TFST_FRAME_HEADER_SIZE + len, used, data, elen);
    g_assert_cmpint(used, >, 0);
    n++;
  }
  g_assert_cmpuint(n, ==, m.count);
  g_assert_cmpint(tfst_frame_event_end(buf, used), ==, TFST_FRAME_HEADER_SIZE + len);
  g_assert_cmpmem(buf + TFST_FRAME_HEADER_SIZE, len, p, len);
  return r;
}

static int
fuzz_event_ack(const guint8 *p, guint32 len)
{
  TfstEventAckMsg m, again;
  guint8 buf[256];
  gssize n;
  int r = tfst_frame_decode_event_ack(p, len, &m);

  assert_status_in(r, event_codes);
  if (r != TFST_FRAME_OK)
    return r;
  n = tfst_frame_encode_event_ack(buf, sizeof(buf), &m);
  g_assert_cmpint(n, ==, TFST_FRAME_HEADER_SIZE + len);
  g_assert_cmpint(tfst_frame_decode_event_ack(buf + TFST_FRAME_HEADER_SIZE, len, &again), ==, 0);
  assert_event_ack_equal(&again, &m);
  return r;
}

/* Dispatch after a good header and payload shape, as a hop reader would. */
static int
fuzz_message(const TfstFrameHeader *h, const guint8 *p)
{
  guint32 v;

  switch (h->type) {
    case TFST_FRAME_HELLO:
      return fuzz_hello(p, h->length);
    case TFST_FRAME_IAM:
      return fuzz_iam(p, h->length);
    case TFST_FRAME_TELL:
    case TFST_FRAME_TELL_OK:
      return fuzz_tell(h->type, p, h->length);
    case TFST_FRAME_OPEN:
      return fuzz_open(p, h->length);
    case TFST_FRAME_GOAWAY:
      return fuzz_goaway(p, h->length);
    case TFST_FRAME_EVENT:
      return fuzz_event(p, h->length);
    case TFST_FRAME_EVENT_ACK:
      return fuzz_event_ack(p, h->length);
    case TFST_FRAME_OPEN_OK:
    case TFST_FRAME_OPEN_FAIL:
    case TFST_FRAME_RST:
    case TFST_FRAME_CREDIT:
      g_assert_cmpint(tfst_frame_decode_u32(h, p, &v), ==, TFST_FRAME_OK);
      g_assert_true(h->type != TFST_FRAME_CREDIT || v != 0);
      return TFST_FRAME_OK;
    case TFST_FRAME_PING:
    case TFST_FRAME_PONG:
      (void)tfst_frame_decode_u64(p);
      return TFST_FRAME_OK;
    default:
      return TFST_FRAME_OK;
  }
}

static void
fuzz_frame(const guint8 *data, gsize len, FuzzStats *st)
{
  g_autofree guint8 *copy = exact_copy(data, len);
  g_autofree guint8 *p = NULL;
  TfstFrameHeader h;
  int r = tfst_frame_header_decode(copy, len, &h);

  assert_status_in(r, header_codes);
  if (r != TFST_FRAME_OK)
    return;
  st->header_ok++;
  g_assert_cmpuint(h.length, <=, TFST_FRAME_MAX_PAYLOAD);
  g_assert_true(h.type >= 1 && h.type <= TFST_FRAME_TYPE_LAST);
  if (len - TFST_FRAME_HEADER_SIZE < h.length)
    return;
  p = exact_copy(data + TFST_FRAME_HEADER_SIZE, h.length);
  r = tfst_frame_payload_check(&h, p);
  assert_status_in(r, check_codes);
  if (r != TFST_FRAME_OK)
    return;
  st->decoded[h.type]++;
  if (fuzz_message(&h, p) == TFST_FRAME_OK)
    st->accepted[h.type]++;
}

/* Every message decoder on the same bytes, whatever the header said. */
static void
fuzz_all_decoders(const guint8 *data, gsize len)
{
  g_autofree guint8 *p = exact_copy(data, len);

  fuzz_hello(p, len);
  fuzz_iam(p, len);
  fuzz_open(p, len);
  fuzz_tell(TFST_FRAME_TELL, p, len);
  fuzz_goaway(p, len);
  fuzz_event(p, len);
  fuzz_event_ack(p, len);
}

static guint
rnd(guint lo, guint hi)
{
  return (guint)g_test_rand_int_range((gint32)lo, (gint32)hi);
}

static void
rnd_fill(guint8 *buf, gsize n)
{
  for (gsize i = 0; i < n; i++)
    buf[i] = rnd(0, 256);
}

static const char *
rnd_label(void)
{
  static const char *const labels[] = {"gw1", "relay1", "ep", "a", "a b", "", "a/b"};

  /* Mostly valid, so that decoders get past the label check. */
  return labels[rnd(0, 4) != 0 ? rnd(0, 4) : rnd(0, G_N_ELEMENTS(labels))];
}

/* Writes a length-prefixed owner label and returns the bytes written. */
static gsize
rnd_owner(guint8 *v)
{
  const char *l = rnd_label();
  gsize n = strlen(l);

  v[0] = rnd(0, 8) == 0 ? rnd(0, 256) : n;
  memcpy(v + 1, l, n);
  return 1 + n;
}

/* One TLV value that is right for its tag most of the time; returns its
 * length (at most 60) and sets the tag. */
static gsize
rnd_tlv_value(guint8 *tag, guint8 *v)
{
  static const guint8 label_tags[] = {TFST_TLV_LABEL, TFST_TLV_FORWARD, TFST_TLV_ORIGIN,
                                      TFST_TLV_ROUTE};
  const char *l;
  gsize n;

  switch (rnd(0, 8)) {
    case 0:
    case 1:
      *tag = label_tags[rnd(0, G_N_ELEMENTS(label_tags))];
      l = rnd_label();
      memcpy(v, l, strlen(l));
      return strlen(l);
    case 2:
      *tag = rnd(0, 2) == 0 ? TFST_TLV_CLIENT : TFST_TLV_DEST;
      n = rnd(0, 2) == 0 ? 7 : 19;
      rnd_fill(v, n);
      v[0] = rnd(0, 4) != 0 ? (n == 7 ? 4 : 6) : rnd(0, 8);
      return n;
    case 3:
      *tag = TFST_TLV_WINDOW;
      rnd_fill(v, 4);
      return 4;
    case 4:
      *tag = TFST_TLV_ROLE;
      v[0] = rnd(0, 5);
      return 1;
    case 5:
      *tag = TFST_TLV_CHAIN;
      v[0] = rnd(0, 256);
      l = rnd_label();
      memcpy(v + 1, l, strlen(l));
      return 1 + strlen(l);
    case 6:
      *tag = rnd(0, 2) == 0 ? TFST_TLV_NETWORK : TFST_TLV_FORWARD;
      n = rnd_owner(v);
      if (*tag == TFST_TLV_FORWARD) {
        l = rnd_label();
        memcpy(v + n, l, strlen(l));
        return n + strlen(l);
      }
      v[n] = rnd(0, 2) == 0 ? 4 : 6;
      v[n + 1] = rnd(0, 140);
      rnd_fill(v + n + 2, v[n] == 4 ? 4 : 16);
      return n + 2 + (v[n] == 4 ? 4 : 16);
    default:
      *tag = rnd(0, 256);
      n = rnd(0, 40);
      rnd_fill(v, n);
      return n;
  }
}

/* Random TLV sequences, now and then with a length that lies. */
static gsize
rnd_tlvs(guint8 *buf, gsize cap)
{
  gsize off = 0;
  guint count = rnd(0, 8);

  for (guint i = 0; i < count && off + 3 + 60 <= cap; i++) {
    gsize vlen = rnd_tlv_value(buf + off, buf + off + 3);

    tfst_test_put_be16(buf + off + 1, rnd(0, 16) == 0 ? rnd(0, 65536) : vlen);
    off += 3 + vlen;
  }
  return off;
}

static gsize
rnd_frame(guint8 *buf, gsize cap)
{
  guint type = rnd(1, TFST_FRAME_TYPE_LAST + 1);
  gsize plen;

  switch (rnd(0, 4)) {
    case 0:
      plen = rnd(0, 100);
      rnd_fill(buf, plen);
      return plen;
    case 1:
      plen = rnd(0, 80);
      rnd_fill(buf + TFST_FRAME_HEADER_SIZE, plen);
      break;
    default:
      plen = 0;
      if (type == TFST_FRAME_HELLO || type == TFST_FRAME_GOAWAY) {
        memcpy(buf + TFST_FRAME_HEADER_SIZE, "TFST\1\1", 6);
        plen = type == TFST_FRAME_HELLO ? 6 : 4;
      }
      plen += rnd_tlvs(buf + TFST_FRAME_HEADER_SIZE + plen, cap - TFST_FRAME_HEADER_SIZE - plen);
      break;
  }
  tfst_frame_header_encode(buf, type, type_is_session(type) ? rnd(1, G_MAXINT32) : 0, plen);
  return TFST_FRAME_HEADER_SIZE + plen;
}

static void
test_fuzz_random(void)
{
  g_autofree guint8 *buf = g_malloc(FUZZ_BUF);
  FuzzStats st = {.header_ok = 0};

  for (guint i = 0; i < FUZZ_ITERATIONS; i++) {
    gsize n = rnd_frame(buf, FUZZ_BUF);

    fuzz_frame(buf, n, &st);
    fuzz_all_decoders(buf, n);
    if (n >= TFST_FRAME_HEADER_SIZE)
      fuzz_all_decoders(buf + TFST_FRAME_HEADER_SIZE, n - TFST_FRAME_HEADER_SIZE);
  }
  g_test_message("random: %u headers ok, %u/%u HELLO, %u/%u OPEN, %u/%u TELL accepted",
                 st.header_ok, st.accepted[TFST_FRAME_HELLO], st.decoded[TFST_FRAME_HELLO],
                 st.accepted[TFST_FRAME_OPEN], st.decoded[TFST_FRAME_OPEN],
                 st.accepted[TFST_FRAME_TELL], st.decoded[TFST_FRAME_TELL]);
  g_assert_cmpuint(st.header_ok, >, 0);
}

static const guint8 interesting[] = {0,  1,  2,  3,  4,    6,    7,   0x0f, 0x10, 19,
                                     32, 33, 63, 64, 0x7f, 0x80, 128, 129,  0xfe, 0xff};

static gsize
mutate(guint8 *buf, gsize len, gsize cap)
{
  gsize pos = len > 0 ? rnd(0, len) : 0;

  switch (rnd(0, 7)) {
    case 0:
      if (len > 0)
        buf[pos] ^= 1u << rnd(0, 8);
      return len;
    case 1:
      if (len > 0)
        buf[pos] = rnd(0, 256);
      return len;
    case 2:
      if (len > 0)
        buf[pos] = interesting[rnd(0, G_N_ELEMENTS(interesting))];
      return len;
    case 3:
      return len > 0 ? rnd(0, len) : 0;
    case 4: {
      /* MIN() evaluates its arguments twice: draw once. */
      gsize n = rnd(1, 9);
      n = MIN(n, cap - len);
      memmove(buf + pos + n, buf + pos, len - pos);
      rnd_fill(buf + pos, n);
      return len + n;
    }
    case 5: {
      gsize n = rnd(1, 9);
      n = MIN(n, len - pos);
      memmove(buf + pos, buf + pos + n, len - pos - n);
      return len - n;
    }
    default:
      if (len >= 2) {
        pos = rnd(0, len - 1);
        tfst_test_put_be16(buf + pos, rnd(0, 2) == 0 ? 0xffff : rnd(0, 300));
      }
      return len;
  }
}

static void
test_fuzz_mutate(void)
{
  static const guint8 structured[] = {TFST_FRAME_HELLO,   TFST_FRAME_IAM,  TFST_FRAME_TELL,
                                      TFST_FRAME_TELL_OK, TFST_FRAME_OPEN, TFST_FRAME_GOAWAY};
  g_autoptr(GArray) ends = g_array_new(FALSE, FALSE, sizeof(gsize));
  g_autoptr(GByteArray) corpus = build_corpus_stream(ends);
  g_autofree guint8 *buf = g_malloc(FUZZ_BUF);
  FuzzStats st = {.header_ok = 0};

  for (guint i = 0; i < FUZZ_ITERATIONS; i++) {
    guint k = rnd(0, ends->len);
    gsize start = k == 0 ? 0 : g_array_index(ends, gsize, k - 1);
    gsize len = g_array_index(ends, gsize, k) - start;
    guint rounds = rnd(1, 5);

    /* The corpus frames are all far smaller than the buffer. */
    len = MIN(len, FUZZ_BUF);
    memcpy(buf, corpus->data + start, len);
    for (guint m = 0; m < rounds; m++)
      len = mutate(buf, len, FUZZ_BUF);
    /* Mostly keep the length honest so that payload damage reaches the
     * message decoders instead of stopping at the header. */
    if (len >= TFST_FRAME_HEADER_SIZE && rnd(0, 4) != 0)
      tfst_test_put_be32(buf + 8, len - TFST_FRAME_HEADER_SIZE);
    fuzz_frame(buf, len, &st);
    if (len >= TFST_FRAME_HEADER_SIZE)
      fuzz_all_decoders(buf + TFST_FRAME_HEADER_SIZE, len - TFST_FRAME_HEADER_SIZE);
  }
  for (guint i = 0; i < G_N_ELEMENTS(structured); i++) {
    guint t = structured[i];

    g_test_message("mutate: %s %u decoded, %u accepted", tfst_frame_type_name(t), st.decoded[t],
                   st.accepted[t]);
    /* Both outcomes seen, or the loop is not exercising the decoder. */
    g_assert_cmpuint(st.accepted[t], >, 0);
    g_assert_cmpuint(st.accepted[t], <, st.decoded[t]);
  }
}

/* ---- main ---- */

/* Fixes the g_test_rand seed unless the command line names one. */
/* ---- HELLO FEATURES, EVENT and EVENT_ACK (docs/protocol.md §5) ---- */

static void
test_hello_features(void)
{
  /* HELLO "ep" role 1 with FEATURES 0x00000001 after ROLE and LABEL. */
  static const guint8 golden[] = {1, 1, 0, 0, 0, 0, 0, 0, 0,   0,   0,  22, 'T', 'F', 'S', 'T', 1,
                                  1, 2, 0, 1, 1, 1, 0, 2, 'e', 'p', 14, 0,  4,   0,   0,   0,   1};
  guint8 buf[128];
  TfstHelloMsg m;
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_autofree guint8 *p = NULL;

  g_assert_cmpint(tfst_frame_encode_hello(buf, sizeof(buf), 1, "ep", TFST_FEATURE_EVENTS), ==,
                  sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
  g_assert_cmpint(tfst_frame_decode_hello(buf + 12, sizeof(golden) - 12, &m), ==, TFST_FRAME_OK);
  g_assert_cmphex(m.features, ==, TFST_FEATURE_EVENTS);
  /* Unknown bits are kept for the caller to mask. */
  g_assert_cmpint(tfst_frame_encode_hello(buf, sizeof(buf), 1, "ep", 0xf0000001u), >, 0);
  g_assert_cmpint(tfst_frame_decode_hello(buf + 12, sizeof(golden) - 12, &m), ==, TFST_FRAME_OK);
  g_assert_cmphex(m.features, ==, 0xf0000001u);
  /* Absent: an older peer; the frame is byte for byte the old one. */
  g_assert_cmpint(tfst_frame_encode_hello(buf, sizeof(buf), 1, "ep", 0), ==, sizeof(golden) - 7);
  g_assert_cmpint(tfst_frame_decode_hello(buf + 12, sizeof(golden) - 19, &m), ==, TFST_FRAME_OK);
  g_assert_cmphex(m.features, ==, 0);
  /* A FEATURES value that is not 4 bytes. */
  for (guint n = 0; n < 9; n++) {
    guint8 v[8] = {0};
    if (n == 4)
      continue;
    g_byte_array_set_size(b, 0);
    ba_bytes(b, "TFST\1\1", 6);
    ba_tlv(b, TFST_TLV_ROLE, "\2", 1);
    ba_tlv_str(b, TFST_TLV_LABEL, "gw");
    ba_tlv(b, TFST_TLV_FEATURES, v, n);
    g_free(p);
    p = exact_copy(b->data, b->len);
    g_assert_cmpint(tfst_frame_decode_hello(p, b->len, &m), ==, TFST_FRAME_E_FIELD);
  }
}

static void
ba_u64(GByteArray *b, guint64 v)
{
  ba_u32(b, v >> 32);
  ba_u32(b, v & 0xffffffffu);
}

/* origin-len, origin, sink-len, sink, epoch */
static void
ba_stream(GByteArray *b, const char *origin, const char *sink, guint64 epoch)
{
  ba_u8(b, strlen(origin));
  ba_bytes(b, origin, strlen(origin));
  ba_u8(b, strlen(sink));
  ba_bytes(b, sink, strlen(sink));
  ba_u64(b, epoch);
}

static int
decode_event_copy(const GByteArray *b, TfstEventMsg *m, guint8 **keep)
{
  g_free(*keep);
  *keep = exact_copy(b->data, b->len);
  return tfst_frame_decode_event(*keep, b->len, m);
}

static const TfstEventStream test_stream_gw = {"gw1", "syslog", 0x0102030405060708ull};

static void
test_event_golden(void)
{
  static const guint8 golden[] = {
      1, 16,  0,   0,   0,   0,   0,   0,   0,   0,   0,   41, /* header */
      3, 'g', 'w', '1', 6,   's', 'y', 's', 'l', 'o', 'g',     /* origin, sink */
      1, 2,   3,   4,   5,   6,   7,   8,                      /* epoch */
      0, 0,   0,   0,   0,   0,   0,   5,                      /* base */
      0, 0,   0,   0,   0,   0,   0,   7,                      /* first */
      0, 0,   0,   2,   'h', 'i',                              /* event "hi" */
  };
  guint8 buf[256];
  gssize used = tfst_frame_event_begin(buf, sizeof(buf), &test_stream_gw, 5, 7);
  TfstEventMsg m;
  gsize off = 0, len;
  const guint8 *data;

  g_assert_cmpint(used, ==, 12 + 11 + 24);
  g_assert_cmpint(tfst_frame_event_end(buf, used), ==, TFST_FRAME_E_MISSING);
  used = tfst_frame_event_add(buf, sizeof(buf), used, (const guint8 *)"hi", 2);
  g_assert_cmpint(tfst_frame_event_end(buf, used), ==, sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
  g_assert_cmpint(tfst_frame_decode_event(buf + 12, used - 12, &m), ==, TFST_FRAME_OK);
  g_assert_cmpstr(m.stream.origin, ==, "gw1");
  g_assert_cmpstr(m.stream.sink, ==, "syslog");
  g_assert_cmphex(m.stream.epoch, ==, 0x0102030405060708ull);
  g_assert_cmpuint(m.base, ==, 5);
  g_assert_cmpuint(m.first, ==, 7);
  g_assert_cmpuint(m.count, ==, 1);
  g_assert_true(tfst_frame_event_next(&m, &off, &data, &len));
  g_assert_cmpmem(data, len, "hi", 2);
  g_assert_false(tfst_frame_event_next(&m, &off, &data, &len));
}

static void
test_event_batch(void)
{
  g_autofree guint8 *buf = g_malloc(TFST_FRAME_HEADER_SIZE + TFST_FRAME_MAX_PAYLOAD + 16);
  g_autofree guint8 *big = g_malloc(TFST_EVENT_MAX + 1);
  gsize cap = TFST_FRAME_HEADER_SIZE + TFST_FRAME_MAX_PAYLOAD + 16;
  gssize used = tfst_frame_event_begin(buf, cap, &test_stream_gw, 1, 1);
  guint n = 0;
  TfstEventMsg m;
  gsize off = 0, len;
  const guint8 *data;

  memset(big, 'x', TFST_EVENT_MAX + 1);
  g_assert_cmpint(tfst_frame_event_add(buf, cap, used, big, 0), ==, TFST_FRAME_E_FIELD);
  g_assert_cmpint(tfst_frame_event_add(buf, cap, used, big, TFST_EVENT_MAX + 1), ==,
                  TFST_FRAME_E_FIELD);
  /* Maximum-size events until the payload limit: the one that does not
   * fit leaves the frame unchanged. */
  for (;;) {
    gssize r = tfst_frame_event_add(buf, cap, used, big, TFST_EVENT_MAX);
    if (r == TFST_FRAME_E_SPACE)
      break;
    g_assert_cmpint(r, ==, used + 4 + TFST_EVENT_MAX);
    used = r;
    big[0] = 'a' + ++n;
  }
  g_assert_cmpuint(n, ==, 3);
  g_assert_cmpint(tfst_frame_event_end(buf, used), ==, used);
  g_assert_cmpuint(used - TFST_FRAME_HEADER_SIZE, <=, TFST_FRAME_MAX_PAYLOAD);
  g_assert_cmpint(tfst_frame_decode_event(buf + 12, used - 12, &m), ==, TFST_FRAME_OK);
  g_assert_cmpuint(m.count, ==, 3);
  for (guint i = 0; i < 3; i++) {
    g_assert_true(tfst_frame_event_next(&m, &off, &data, &len));
    g_assert_cmpuint(len, ==, TFST_EVENT_MAX);
    g_assert_cmpint(data[0], ==, i == 0 ? 'x' : 'a' + i);
  }
  g_assert_false(tfst_frame_event_next(&m, &off, &data, &len));
  /* A small buffer: begin and add report the space. */
  g_assert_cmpint(tfst_frame_event_begin(buf, 40, &test_stream_gw, 1, 1), ==, TFST_FRAME_E_SPACE);
  used = tfst_frame_event_begin(buf, 52, &test_stream_gw, 1, 1);
  g_assert_cmpint(tfst_frame_event_add(buf, 52, used, big, 1), ==, used + 5);
  g_assert_cmpint(tfst_frame_event_add(buf, 52, used, big, 4), ==, TFST_FRAME_E_SPACE);
}

static void
test_event_encode_errors(void)
{
  guint8 buf[256];
  TfstEventStream s = test_stream_gw;

  g_assert_cmpint(tfst_frame_event_begin(buf, sizeof(buf), &s, 0, 1), ==, TFST_FRAME_E_FIELD);
  g_assert_cmpint(tfst_frame_event_begin(buf, sizeof(buf), &s, 5, 4), ==, TFST_FRAME_E_FIELD);
  s.epoch = 0;
  g_assert_cmpint(tfst_frame_event_begin(buf, sizeof(buf), &s, 1, 1), ==, TFST_FRAME_E_LABEL);
  s = test_stream_gw;
  g_strlcpy(s.origin, "bad label", sizeof(s.origin));
  g_assert_cmpint(tfst_frame_event_begin(buf, sizeof(buf), &s, 1, 1), ==, TFST_FRAME_E_LABEL);
  s = test_stream_gw;
  s.sink[0] = '\0';
  g_assert_cmpint(tfst_frame_event_begin(buf, sizeof(buf), &s, 1, 1), ==, TFST_FRAME_E_LABEL);
}

static void
build_event(GByteArray *b, guint64 epoch, guint64 base, guint64 first)
{
  g_byte_array_set_size(b, 0);
  ba_stream(b, "gw1", "syslog", epoch);
  ba_u64(b, base);
  ba_u64(b, first);
}

static void
test_event_decode_errors(void)
{
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_autofree guint8 *keep = NULL;
  TfstEventMsg m;

  build_event(b, 1, 1, 1);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_MISSING); /* no event */
  ba_u32(b, 0);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_FIELD); /* empty event */
  build_event(b, 1, 1, 1);
  ba_u32(b, TFST_EVENT_MAX + 1);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_FIELD); /* oversize */
  build_event(b, 1, 1, 1);
  ba_u32(b, 3);
  ba_bytes(b, "ab", 2);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_PAYLOAD); /* truncated */
  build_event(b, 1, 1, 1);
  ba_u32(b, 2);
  ba_bytes(b, "ab", 2);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_OK);
  ba_bytes(b, "\0\0\0", 3);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_PAYLOAD); /* trailing */
  /* Sequence fields: base 0, first below base, a batch wrapping 2^64. */
  const guint64 bad[][3] = {{0, 1, 1}, {1, 0, 1}, {1, 5, 4}, {1, 1, G_MAXUINT64}};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    build_event(b, bad[i][0], bad[i][1], bad[i][2]);
    ba_u32(b, 1);
    ba_u8(b, 'x');
    g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_FIELD);
  }
  /* Labels: empty, not a label, length past the end. */
  g_byte_array_set_size(b, 0);
  ba_u8(b, 0);
  ba_bytes(b, "\6syslog", 7);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_LABEL);
  g_byte_array_set_size(b, 0);
  ba_bytes(b, "\3g w\6syslog", 11);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_LABEL);
  g_byte_array_set_size(b, 0);
  ba_bytes(b, "\3gw1\60sys", 8);
  g_assert_cmpint(decode_event_copy(b, &m, &keep), ==, TFST_FRAME_E_FIELD);
  /* Cut anywhere: never accepted, never read past the end. */
  build_event(b, 1, 1, 1);
  ba_u32(b, 2);
  ba_bytes(b, "ab", 2);
  for (guint cut = 0; cut < b->len; cut++) {
    g_autoptr(GByteArray) c = g_byte_array_new();
    ba_bytes(c, b->data, cut);
    g_assert_cmpint(decode_event_copy(c, &m, &keep), <, 0);
  }
}

static void
test_event_ack(void)
{
  static const guint8 golden[] = {
      1, 17,  0,   0,   0, 0,   0,   0,   0,   0,   0,   31, /* header */
      3, 'g', 'w', '1', 6, 's', 'y', 's', 'l', 'o', 'g',     /* origin, sink */
      1, 2,   3,   4,   5, 6,   7,   8,                      /* epoch */
      0, 0,   0,   1,   0, 0,   0,   2,                      /* acked */
      0, 0,   0,   111,                                      /* status */
  };
  TfstEventAckMsg a = {test_stream_gw, 0x100000002ull, ECONNREFUSED}, m;
  guint8 buf[256];
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_autofree guint8 *p = NULL;

  g_assert_cmpint(tfst_frame_encode_event_ack(buf, sizeof(buf), &a), ==, sizeof(golden));
  g_assert_cmpmem(buf, sizeof(golden), golden, sizeof(golden));
  g_assert_cmpint(tfst_frame_decode_event_ack(buf + 12, sizeof(golden) - 12, &m), ==,
                  TFST_FRAME_OK);
  assert_event_ack_equal(&m, &a);
  g_assert_cmpint(tfst_frame_encode_event_ack(buf, 20, &a), ==, TFST_FRAME_E_SPACE);
  a.stream.epoch = 0;
  g_assert_cmpint(tfst_frame_encode_event_ack(buf, sizeof(buf), &a), ==, TFST_FRAME_E_LABEL);
  /* Every cut and one byte more; epoch 0. */
  for (guint cut = 0; cut < sizeof(golden) - 12; cut++) {
    g_free(p);
    p = exact_copy(golden + 12, cut);
    g_assert_cmpint(tfst_frame_decode_event_ack(p, cut, &m), <, 0);
  }
  ba_bytes(b, golden + 12, sizeof(golden) - 12);
  ba_u8(b, 0);
  g_free(p);
  p = exact_copy(b->data, b->len);
  g_assert_cmpint(tfst_frame_decode_event_ack(p, b->len, &m), ==, TFST_FRAME_E_PAYLOAD);
  g_byte_array_set_size(b, 0);
  ba_stream(b, "gw1", "syslog", 0);
  ba_u64(b, 1);
  ba_u32(b, 0);
  g_free(p);
  p = exact_copy(b->data, b->len);
  g_assert_cmpint(tfst_frame_decode_event_ack(p, b->len, &m), ==, TFST_FRAME_E_FIELD);
}

static void
test_payload_check_events(void)
{
  guint8 payload[200];

  memset(payload, 0x5a, sizeof(payload));
  /* EVENT: the smallest is two 1-byte labels, three u64, one 1-byte event. */
  for (guint32 len = 0; len < 33; len++)
    expect_check(TFST_FRAME_EVENT, len, len > 0 ? payload : NULL, TFST_FRAME_E_PAYLOAD);
  expect_check(TFST_FRAME_EVENT, 33, payload, TFST_FRAME_OK);
  expect_check(TFST_FRAME_EVENT, 200, payload, TFST_FRAME_OK);
  /* EVENT_ACK: two labels of 1 ... 63 bytes, epoch, acked, status. */
  for (guint32 len = 0; len < 24; len++)
    expect_check(TFST_FRAME_EVENT_ACK, len, len > 0 ? payload : NULL, TFST_FRAME_E_PAYLOAD);
  expect_check(TFST_FRAME_EVENT_ACK, 24, payload, TFST_FRAME_OK);
  expect_check(TFST_FRAME_EVENT_ACK, 22 + 2 * TFST_LABEL_MAX, payload, TFST_FRAME_OK);
  expect_check(TFST_FRAME_EVENT_ACK, 23 + 2 * TFST_LABEL_MAX, payload, TFST_FRAME_E_PAYLOAD);
}

static char **
add_default_seed(int *argc, char ***argv)
{
  char **args;

  for (int i = 1; i < *argc; i++)
    if (g_str_has_prefix((*argv)[i], "--seed"))
      return NULL;
  /* g_test_init() keeps pointers into argv: the caller frees the array
   * only after g_test_run(). */
  args = g_new0(char *, *argc + 2);
  memcpy(args, *argv, sizeof(char *) * *argc);
  args[(*argc)++] = (char *)DEFAULT_SEED;
  *argv = args;
  return args;
}

int
main(int argc, char **argv)
{
  g_autofree char **seeded_argv = add_default_seed(&argc, &argv);
  g_test_init(&argc, &argv, NULL);

  g_test_add_func("/tfst/frame/type-names", test_type_names);
  g_test_add_func("/tfst/frame/type-is-session", test_type_is_session);
  g_test_add_func("/tfst/frame/strerror", test_strerror);

  g_test_add_func("/tfst/frame/header-roundtrip", test_header_roundtrip);
  g_test_add_func("/tfst/frame/header-truncated", test_header_truncated);
  g_test_add_func("/tfst/frame/header-version", test_header_version);
  g_test_add_func("/tfst/frame/header-type", test_header_type);
  g_test_add_func("/tfst/frame/header-oversize", test_header_oversize);
  g_test_add_func("/tfst/frame/header-flags", test_header_flags);
  g_test_add_func("/tfst/frame/header-session", test_header_session);
  g_test_add_func("/tfst/frame/header-precedence", test_header_precedence);

  g_test_add_func("/tfst/frame/payload-check", test_payload_check);
  g_test_add_func("/tfst/frame/payload-check-credit", test_payload_check_credit);
  g_test_add_func("/tfst/frame/u32-frames", test_u32_frames);
  g_test_add_func("/tfst/frame/u32-payload-short", test_u32_payload_short);
  g_test_add_func("/tfst/frame/u64-frames", test_u64_frames);
  g_test_add_func("/tfst/frame/empty-frames", test_empty_frames);

  g_test_add_func("/tfst/frame/label-valid", test_label_valid);
  g_test_add_func("/tfst/frame/label-fields-too-long", test_label_fields_too_long);

  g_test_add_func("/tfst/frame/hello-roundtrip", test_hello_roundtrip);
  g_test_add_func("/tfst/frame/hello-short", test_hello_short);
  g_test_add_func("/tfst/frame/hello-magic", test_hello_magic);
  g_test_add_func("/tfst/frame/hello-version-range", test_hello_version_range);
  g_test_add_func("/tfst/frame/hello-missing", test_hello_missing);
  g_test_add_func("/tfst/frame/hello-role", test_hello_role);
  g_test_add_func("/tfst/frame/hello-label", test_hello_label);
  g_test_add_func("/tfst/frame/hello-tlv-truncated", test_hello_tlv_truncated);
  g_test_add_func("/tfst/frame/hello-unknown-tlv", test_hello_unknown_tlv);
  g_test_add_func("/tfst/frame/hello-encode-bad-label", test_hello_encode_bad_label);

  g_test_add_func("/tfst/frame/iam-roundtrip", test_iam_roundtrip);
  g_test_add_func("/tfst/frame/iam-errors", test_iam_errors);

  g_test_add_func("/tfst/frame/open-roundtrip", test_open_roundtrip);
  g_test_add_func("/tfst/frame/open-golden", test_open_golden);
  g_test_add_func("/tfst/frame/open-missing", test_open_missing);
  g_test_add_func("/tfst/frame/open-window", test_open_window);
  g_test_add_func("/tfst/frame/open-window-range", test_open_window_range);
  g_test_add_func("/tfst/frame/payload-check-open-ok", test_payload_check_open_ok);
  g_test_add_func("/tfst/frame/open-address", test_open_address);
  g_test_add_func("/tfst/frame/open-labels", test_open_labels);
  g_test_add_func("/tfst/frame/open-tlv", test_open_tlv);
  g_test_add_func("/tfst/frame/open-encode-session-zero", test_open_encode_session_zero);

  g_test_add_func("/tfst/frame/tell-roundtrip", test_tell_roundtrip);
  g_test_add_func("/tfst/frame/tell-golden", test_tell_golden);
  g_test_add_func("/tfst/frame/tell-ok-golden", test_tell_ok_golden);
  g_test_add_func("/tfst/frame/tell-reuse", test_tell_reuse);
  g_test_add_func("/tfst/frame/tell-label", test_tell_label);
  g_test_add_func("/tfst/frame/tell-chain", test_tell_chain);
  g_test_add_func("/tfst/frame/tell-network", test_tell_network);
  g_test_add_func("/tfst/frame/tell-network-owner", test_tell_network_owner);
  g_test_add_func("/tfst/frame/tell-forward", test_tell_forward);
  g_test_add_func("/tfst/frame/tell-link", test_tell_link);
  g_test_add_func("/tfst/frame/tell-unknown-tlv", test_tell_unknown_tlv);
  g_test_add_func("/tfst/frame/tell-too-big", test_tell_too_big);
  g_test_add_func("/tfst/frame/tell-encode-type", test_tell_encode_type);

  g_test_add_func("/tfst/frame/goaway-roundtrip", test_goaway_roundtrip);
  g_test_add_func("/tfst/frame/goaway-sanitise", test_goaway_sanitise);
  g_test_add_func("/tfst/frame/goaway-text-cap", test_goaway_text_cap);
  g_test_add_func("/tfst/frame/goaway-errors", test_goaway_errors);
  g_test_add_func("/tfst/frame/goaway-text-too-long", test_goaway_text_too_long);

  g_test_add_func("/tfst/frame/encode-space", test_encode_space);
  g_test_add_func("/tfst/frame/stream", test_stream);

  g_test_add_func("/tfst/frame/hello-features", test_hello_features);
  g_test_add_func("/tfst/frame/event-golden", test_event_golden);
  g_test_add_func("/tfst/frame/event-batch", test_event_batch);
  g_test_add_func("/tfst/frame/event-encode-errors", test_event_encode_errors);
  g_test_add_func("/tfst/frame/event-decode-errors", test_event_decode_errors);
  g_test_add_func("/tfst/frame/event-ack", test_event_ack);
  g_test_add_func("/tfst/frame/payload-check-events", test_payload_check_events);
  g_test_add_func("/tfst/frame/fuzz-random", test_fuzz_random);
  g_test_add_func("/tfst/frame/fuzz-mutate", test_fuzz_mutate);
  return g_test_run();
}
