/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A hop driven over a socketpair with a fake callback table: the hop runs
 * the handshake, PING and its output bounds itself, and hands everything
 * else to the table, which records what it got. */
#include "tfst-engine-private.h"
#include "tfst-test-util.h"

#include <errno.h>
#include <string.h>

#define CHILD "child1"

typedef struct {
  guint frames;
  TfstFrameHeader last;
  GByteArray *last_payload;
  guint tells;
  guint ups;
  guint losts;
  int lost_err;
  guint downs;
  gboolean down_was_up;
  guint events;
  guint8 event_type;
  guint rooms;
} Calls;

typedef struct {
  TfstConfig *config;
  TfstLog log;
  TfstEngine *e;
  TfstTestPeer peer;
  TfstHop *hop;
  Calls calls;
} Fixture;

/* The callbacks find the fixture through the engine's observer data: the
 * engine has no observer here, so nothing else reads it. */
static Calls *
calls_of(TfstHop *hop)
{
  return &((Fixture *)hop->engine->observer_data)->calls;
}

static void
fake_frame_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload)
{
  calls_of(hop)->frames++;
  calls_of(hop)->last = *h;
  g_byte_array_set_size(calls_of(hop)->last_payload, 0);
  g_byte_array_append(calls_of(hop)->last_payload, payload, h->length);
}

static void
fake_tell_cb(TfstHop *hop, guint8 type, const guint8 *payload, guint32 len)
{
  calls_of(hop)->tells++;
}

static void
fake_up_cb(TfstHop *hop)
{
  calls_of(hop)->ups++;
}

static void
fake_lost_cb(TfstHop *hop, int err)
{
  calls_of(hop)->losts++;
  calls_of(hop)->lost_err = err;
}

static void
fake_down_cb(TfstHop *hop, gboolean was_up)
{
  calls_of(hop)->downs++;
  calls_of(hop)->down_was_up = was_up;
  ((Fixture *)hop->engine->observer_data)->hop = NULL; /* the hop frees itself */
}

static void
fake_room_cb(TfstEnd *end)
{
  g_assert_not_reached(); /* no session here blocks */
}

static void
fake_event_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload)
{
  calls_of(hop)->events++;
  calls_of(hop)->event_type = h->type;
}

static void
fake_hop_room_cb(TfstHop *hop)
{
  calls_of(hop)->rooms++;
}

static const TfstHopCallbacks fake_callbacks = {
    .event_cb = fake_event_cb,
    .hop_room_cb = fake_hop_room_cb,
    .frame_cb = fake_frame_cb,
    .tell_cb = fake_tell_cb,
    .up_cb = fake_up_cb,
    .lost_cb = fake_lost_cb,
    .down_cb = fake_down_cb,
    .room_cb = fake_room_cb,
};

/* An endpoint proxy with one child hop, whose child end the test plays. */
static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int fd;

  f->config = tfst_config_load_from_data(TFST_ROLE_EPPROXY, "test",
                                         "[Instance]\nLabel=ep\n"
                                         "[Children]\nListen=127.0.0.1:1\n",
                                         "test.conf", &error);
  g_assert_no_error(error);
  tfst_log_init(&f->log, "epproxy", "test", "ep", 0);
  f->e = tfst_engine_new_state(f->config, &f->log);
  g_assert_cmpint(sd_event_new(&f->e->event), >=, 0);
  f->e->hop_cb = &fake_callbacks;
  f->calls.last_payload = g_byte_array_new();
  f->e->observer_data = f;
  tfst_test_peer_open(&f->peer, &fd);
  f->hop = tfst_hop_new(f->e, TFST_HOP_TO_CHILD, fd, NULL);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  if (f->hop != NULL)
    tfst_hop_close(f->hop, 0, "test over");
  tfst_test_peer_close(&f->peer);
  tfst_engine_free(f->e);
  tfst_config_free(f->config);
  g_byte_array_unref(f->calls.last_payload);
}

static void
send_hello(Fixture *f)
{
  guint8 b[128];

  tfst_test_peer_send(&f->peer, b,
                      tfst_frame_encode_hello(b, sizeof(b), TFST_ROLE_GWPROXY, CHILD, 0));
}

static void
handshake(Fixture *f)
{
  tfst_test_peer_handshake(&f->peer, f->e->event, CHILD);
}

static gboolean
is_up(gpointer data)
{
  return ((Fixture *)data)->calls.ups > 0;
}

static gboolean
is_down(gpointer data)
{
  return ((Fixture *)data)->calls.downs > 0;
}

static void
test_handshake_up_once(Fixture *f, gconstpointer data)
{
  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  for (guint i = 0; i < 5; i++)
    g_assert_cmpint(sd_event_run(f->e->event, 0), >=, 0);
  g_assert_cmpuint(f->calls.ups, ==, 1);
  g_assert_cmpuint(f->calls.tells, ==, 1);
  g_assert_cmpuint(f->calls.frames, ==, 0);
  g_assert_true(f->hop->up);
  g_assert_cmpstr(f->hop->peer_label, ==, CHILD);
}

static gboolean
got_frame(gpointer data)
{
  return ((Fixture *)data)->calls.frames > 0;
}

static void
test_frame_after_handshake(Fixture *f, gconstpointer data)
{
  static const char text[] = "payload bytes";

  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  tfst_test_peer_send_frame(&f->peer, TFST_FRAME_DATA, 7, text, sizeof(text));
  g_assert_true(tfst_test_run_until(f->e->event, got_frame, f, 200));
  g_assert_cmpuint(f->calls.frames, ==, 1);
  g_assert_cmpuint(f->calls.last.type, ==, TFST_FRAME_DATA);
  g_assert_cmpuint(f->calls.last.session, ==, 7);
  g_assert_cmpmem(f->calls.last_payload->data, f->calls.last_payload->len, text, sizeof(text));
}

static void
test_ping_answered_by_hop(Fixture *f, gconstpointer data)
{
  TfstFrameHeader h;
  g_autoptr(GBytes) pong = NULL;
  guint8 b[TFST_FRAME_HEADER_SIZE + 8];

  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  tfst_test_peer_send(&f->peer, b, tfst_frame_encode_u64(b, sizeof(b), TFST_FRAME_PING, 4242));
  g_assert_true(tfst_test_peer_expect(&f->peer, f->e->event, TFST_FRAME_PONG, &h, &pong));
  g_assert_cmpuint(tfst_frame_decode_u64(g_bytes_get_data(pong, NULL)), ==, 4242);
  g_assert_cmpuint(f->calls.frames, ==, 0);
}

static void
test_frame_before_handshake(Fixture *f, gconstpointer data)
{
  send_hello(f);
  tfst_test_peer_send_frame(&f->peer, TFST_FRAME_DATA, 7, "x", 1);
  g_assert_true(tfst_test_run_until(f->e->event, is_down, f, 200));
  g_assert_cmpuint(f->calls.losts, ==, 1);
  g_assert_cmpint(f->calls.lost_err, ==, EPROTO);
  g_assert_false(f->calls.down_was_up);
  g_assert_cmpuint(f->calls.ups, ==, 0);
  g_assert_cmpuint(f->calls.frames, ==, 0);
  g_assert_true(tfst_test_peer_wait_eof(&f->peer, f->e->event));
}

static void
test_peer_closes(Fixture *f, gconstpointer data)
{
  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  tfst_test_peer_close(&f->peer);
  g_assert_true(tfst_test_run_until(f->e->event, is_down, f, 200));
  g_assert_cmpint(f->calls.lost_err, ==, ECONNRESET);
  g_assert_true(f->calls.down_was_up);
}

/* Output the peer never reads beyond TFST_HOP_OUT_MAX closes the hop. */
static void
test_output_cap(Fixture *f, gconstpointer data)
{
  g_autofree guint8 *frame = g_malloc0(TFST_FRAME_HEADER_SIZE + 65536);

  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  tfst_frame_header_encode(frame, TFST_FRAME_DATA, 2, 65536);
  /* The socket takes what its buffer holds, the hop queues the rest. */
  for (guint i = 0; i < 4 * TFST_HOP_OUT_MAX / 65536 && !f->hop->overflow; i++)
    tfst_hop_send(f->hop, frame, TFST_FRAME_HEADER_SIZE + 65536);
  g_assert_true(f->hop->overflow);
  g_assert_true(tfst_test_run_until(f->e->event, is_down, f, 200));
  g_assert_cmpint(f->calls.lost_err, ==, ENOBUFS);
}

static gboolean
got_event(gpointer data)
{
  return ((Fixture *)data)->calls.events > 0;
}

static void
send_event(Fixture *f, const char *origin)
{
  TfstEventStream st = {.epoch = 1};
  guint8 b[256];
  gssize n;

  g_strlcpy(st.origin, origin, sizeof(st.origin));
  g_strlcpy(st.sink, "syslog", sizeof(st.sink));
  n = tfst_frame_event_begin(b, sizeof(b), &st, 1, 1);
  n = tfst_frame_event_add(b, sizeof(b), n, (const guint8 *)"<13>hi", 6);
  tfst_test_peer_send(&f->peer, b, tfst_frame_event_end(b, n));
}

/* The peer announced events: they reach event_cb, and the hop knows. */
static void
test_event_negotiated(Fixture *f, gconstpointer data)
{
  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  g_assert_true(tfst_hop_speaks_events(f->hop));
  send_event(f, CHILD);
  g_assert_true(tfst_test_run_until(f->e->event, got_event, f, 200));
  g_assert_cmpuint(f->calls.event_type, ==, TFST_FRAME_EVENT);
  g_assert_cmpuint(f->calls.frames, ==, 0);
}

/* An older peer (no FEATURES) sending EVENT anyway is a protocol error. */
static void
test_event_not_announced(Fixture *f, gconstpointer data)
{
  tfst_test_peer_handshake_features(&f->peer, f->e->event, CHILD, 0);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  g_assert_false(tfst_hop_speaks_events(f->hop));
  send_event(f, CHILD);
  g_assert_true(tfst_test_run_until(f->e->event, is_down, f, 200));
  g_assert_cmpint(f->calls.lost_err, ==, EPROTO);
  g_assert_cmpuint(f->calls.events, ==, 0);
}

/* EVENT_ACK travels down only: from a child it is an error. */
static void
test_event_ack_from_child(Fixture *f, gconstpointer data)
{
  TfstEventAckMsg a = {.stream = {"child1", "syslog", 1}, .acked = 1};
  guint8 b[256];

  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  tfst_test_peer_send(&f->peer, b, tfst_frame_encode_event_ack(b, sizeof(b), &a));
  g_assert_true(tfst_test_run_until(f->e->event, is_down, f, 200));
  g_assert_cmpint(f->calls.lost_err, ==, EPROTO);
  g_assert_cmpuint(f->calls.events, ==, 0);
}

static void
test_event_before_up(Fixture *f, gconstpointer data)
{
  send_hello(f);
  send_event(f, CHILD);
  g_assert_true(tfst_test_run_until(f->e->event, is_down, f, 200));
  g_assert_cmpint(f->calls.lost_err, ==, EPROTO);
  g_assert_cmpuint(f->calls.events, ==, 0);
}

/* A hop whose output is above the high mark calls hop_room_cb once, when
 * the peer has read it down below the low mark. */
static void
test_hop_room(Fixture *f, gconstpointer data)
{
  g_autofree guint8 *frame = g_malloc0(TFST_FRAME_HEADER_SIZE + 65536);
  TfstFrameHeader h;
  guint sent = 0, read = 0;

  handshake(f);
  g_assert_true(tfst_test_run_until(f->e->event, is_up, f, 200));
  tfst_frame_header_encode(frame, TFST_FRAME_DATA, 2, 65536);
  for (; tfst_hop_has_room(f->hop); sent++)
    tfst_hop_send(f->hop, frame, TFST_FRAME_HEADER_SIZE + 65536);
  tfst_hop_want_room(f->hop);
  g_assert_cmpuint(f->calls.rooms, ==, 0);
  while (f->calls.rooms == 0 && read < sent) {
    g_assert_true(tfst_test_peer_next_frame(&f->peer, f->e->event, &h, NULL));
    read += h.type == TFST_FRAME_DATA;
  }
  g_assert_cmpuint(f->calls.rooms, ==, 1);
  g_assert_true(tfst_hop_has_room(f->hop));
  /* Once: it asked once. */
  while (read < sent) {
    g_assert_true(tfst_test_peer_next_frame(&f->peer, f->e->event, &h, NULL));
    read += h.type == TFST_FRAME_DATA;
  }
  g_assert_cmpuint(f->calls.rooms, ==, 1);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD("/hop/handshake-up-once", test_handshake_up_once);
  ADD("/hop/frame-after-handshake", test_frame_after_handshake);
  ADD("/hop/ping-answered-by-hop", test_ping_answered_by_hop);
  ADD("/hop/frame-before-handshake", test_frame_before_handshake);
  ADD("/hop/peer-closes", test_peer_closes);
  ADD("/hop/output-cap", test_output_cap);
  ADD("/hop/event-negotiated", test_event_negotiated);
  ADD("/hop/event-not-announced", test_event_not_announced);
  ADD("/hop/event-ack-from-child", test_event_ack_from_child);
  ADD("/hop/event-before-up", test_event_before_up);
  ADD("/hop/hop-room", test_hop_room);
#undef ADD
  return g_test_run();
}
