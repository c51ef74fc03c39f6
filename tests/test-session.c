/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sessions at an endpoint proxy, through the engine's own hop callbacks:
 * the test plays a gateway proxy on a socketpair hop and the target on a
 * loopback listener, and runs the engine's sd-event loop itself. */
#include "tfst-engine-private.h"
#include "tfst-test-util.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHILD "gw1"

typedef struct {
  TfstConfig *config;
  TfstLog log;
  TfstEngine *e;
  TfstTestPeer peer;
  TfstHop *hop;
  int target_listener;
  int target; /* the accepted connection from the proxy, -1: none yet */
} Fixture;

static int
loopback_listener(guint16 *out_port)
{
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
  g_assert_cmpint(listen(fd, 8), ==, 0);
  g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &len), ==, 0);
  *out_port = ntohs(sin.sin_port);
  return fd;
}

/* What tfst_engine_start() sets up for sessions, without a thread. */
static void
engine_loop_init(TfstEngine *e)
{
  g_assert_cmpint(sd_event_new(&e->event), >=, 0);
  e->sess_epfd = epoll_create1(EPOLL_CLOEXEC);
  g_assert_cmpint(e->sess_epfd, >=, 0);
  g_assert_cmpint(
      sd_event_add_io(e->event, &e->sess_src, e->sess_epfd, EPOLLIN, tfst_session_dispatch_cb, e),
      >=, 0);
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint16 port;
  int fd;

  f->target_listener = loopback_listener(&port);
  f->target = -1;
  text = g_strdup_printf("[Instance]\nLabel=ep\nMaxSessionsPerChild=1\n"
                         "[Children]\nListen=127.0.0.1:1\n"
                         "[Forward web]\nTarget=127.0.0.1:%u\n",
                         port);
  f->config = tfst_config_load_from_data(TFST_ROLE_EPPROXY, "test", text, "test.conf", &error);
  g_assert_no_error(error);
  tfst_log_init(&f->log, "epproxy", "test", "ep", 0);
  f->e = tfst_engine_new_state(f->config, &f->log);
  engine_loop_init(f->e);
  tfst_test_peer_open(&f->peer, &fd);
  f->hop = tfst_hop_new(f->e, TFST_HOP_TO_CHILD, fd, NULL);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  while (f->e->hops.head != NULL)
    tfst_hop_close(f->e->hops.head->data, 0, "test over");
  while (f->e->sessions.head != NULL)
    tfst_session_abort(f->e->sessions.head->data, ECONNRESET, NULL);
  f->e->sess_src = sd_event_source_disable_unref(f->e->sess_src);
  tfst_router_free(f->e);
  tfst_test_peer_close(&f->peer);
  if (f->target >= 0)
    close(f->target);
  close(f->target_listener);
  tfst_engine_free(f->e);
  tfst_config_free(f->config);
}

/* The gateway proxy's side of the handshake, until the TELL_OK. */
static void
handshake(Fixture *f)
{
  TfstFrameHeader h;

  tfst_test_peer_handshake(&f->peer, f->e->event, CHILD);
  g_assert_true(tfst_test_peer_expect(&f->peer, f->e->event, TFST_FRAME_TELL_OK, &h, NULL));
  g_assert_true(f->hop->up);
}

static void
send_open(Fixture *f, guint32 id)
{
  TfstOpenMsg m = {.window = 65536};
  guint8 b[512];

  g_strlcpy(m.forward, "web", sizeof(m.forward));
  g_strlcpy(m.origin, CHILD, sizeof(m.origin));
  tfst_test_peer_send(&f->peer, b, tfst_frame_encode_open(b, sizeof(b), id, &m));
}

static gboolean
target_accepted(gpointer data)
{
  Fixture *f = data;

  f->target = accept4(f->target_listener, NULL, NULL, SOCK_CLOEXEC);
  return f->target >= 0;
}

/* OPEN from the child: the proxy connects to the target, answers OPEN_OK. */
static void
open_session(Fixture *f, guint32 id)
{
  TfstFrameHeader h;

  send_open(f, id);
  g_assert_true(tfst_test_run_until(f->e->event, target_accepted, f, 300));
  g_assert_true(tfst_test_peer_expect(&f->peer, f->e->event, TFST_FRAME_OPEN_OK, &h, NULL));
  g_assert_cmpuint(h.session, ==, id);
  g_assert_cmpuint(f->e->sessions.length, ==, 1);
}

typedef struct {
  Fixture *f;
  GByteArray *got;
  gboolean eof;
} TargetRead;

static gboolean
target_read_some(gpointer data)
{
  TargetRead *r = data;
  guint8 buf[4096];
  gssize n = recv(r->f->target, buf, sizeof(buf), MSG_DONTWAIT);

  if (n > 0)
    g_byte_array_append(r->got, buf, n);
  r->eof = n == 0 || (n < 0 && errno != EAGAIN);
  return n > 0 || r->eof;
}

static void
test_open_and_data(Fixture *f, gconstpointer data)
{
  static const char up[] = "from the client";
  static const char down[] = "from the target";
  TargetRead r = {.f = f, .got = g_byte_array_new()};
  g_autoptr(GBytes) payload = NULL;
  TfstFrameHeader h;

  handshake(f);
  open_session(f, 1);
  tfst_test_peer_send_frame(&f->peer, TFST_FRAME_DATA, 1, up, sizeof(up));
  while (r.got->len < sizeof(up) && !r.eof)
    g_assert_true(tfst_test_run_until(f->e->event, target_read_some, &r, 300));
  g_assert_cmpmem(r.got->data, r.got->len, up, sizeof(up));
  g_assert_cmpint(write(f->target, down, sizeof(down)), ==, sizeof(down));
  g_assert_true(tfst_test_peer_expect(&f->peer, f->e->event, TFST_FRAME_DATA, &h, &payload));
  g_assert_cmpuint(h.session, ==, 1);
  g_assert_cmpmem(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload), down, sizeof(down));
  g_byte_array_unref(r.got);
}

/* FIN from the child ends the target's input; the target closing sends
 * FIN back, and the session is gone. */
static void
test_fin_both_ways(Fixture *f, gconstpointer data)
{
  TargetRead r = {.f = f, .got = g_byte_array_new()};
  TfstFrameHeader h;

  handshake(f);
  open_session(f, 1);
  tfst_test_peer_send_frame(&f->peer, TFST_FRAME_FIN, 1, NULL, 0);
  g_assert_true(tfst_test_run_until(f->e->event, target_read_some, &r, 300));
  g_assert_true(r.eof);
  g_assert_cmpuint(r.got->len, ==, 0);
  g_assert_cmpint(shutdown(f->target, SHUT_WR), ==, 0);
  g_assert_true(tfst_test_peer_expect(&f->peer, f->e->event, TFST_FRAME_FIN, &h, NULL));
  g_assert_cmpuint(h.session, ==, 1);
  g_byte_array_unref(r.got);
}

/* A FIN that arrives with the OPEN, before the target connect completed,
 * is kept and applied once it did: the target sees the end of its input. */
static void
test_fin_before_open_ok(Fixture *f, gconstpointer data)
{
  TargetRead r = {.f = f, .got = g_byte_array_new()};
  TfstFrameHeader h;

  handshake(f);
  send_open(f, 1);
  tfst_test_peer_send_frame(&f->peer, TFST_FRAME_FIN, 1, NULL, 0);
  g_assert_true(tfst_test_run_until(f->e->event, target_accepted, f, 300));
  g_assert_true(tfst_test_peer_expect(&f->peer, f->e->event, TFST_FRAME_OPEN_OK, &h, NULL));
  g_assert_true(tfst_test_run_until(f->e->event, target_read_some, &r, 300));
  g_assert_true(r.eof);
  g_assert_cmpuint(r.got->len, ==, 0);
  g_byte_array_unref(r.got);
}

static gboolean
no_sessions(gpointer data)
{
  return ((Fixture *)data)->e->sessions.length == 0;
}

/* RST from the child resets the target connection and ends the session. */
static void
test_rst_from_child(Fixture *f, gconstpointer data)
{
  TargetRead r = {.f = f, .got = g_byte_array_new()};
  guint32 err = GUINT32_TO_BE(ECONNRESET);

  handshake(f);
  open_session(f, 1);
  tfst_test_peer_send_frame(&f->peer, TFST_FRAME_RST, 1, &err, sizeof(err));
  g_assert_true(tfst_test_run_until(f->e->event, no_sessions, f, 300));
  g_assert_true(tfst_test_run_until(f->e->event, target_read_some, &r, 300));
  g_assert_true(r.eof);
  g_byte_array_unref(r.got);
}

/* MaxSessionsPerChild=1: the second OPEN gets OPEN_FAIL EDQUOT. */
static void
test_child_limit(Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) payload = NULL;
  TfstFrameHeader h;
  guint32 err = 0;

  handshake(f);
  open_session(f, 1);
  send_open(f, 3);
  g_assert_true(tfst_test_peer_expect(&f->peer, f->e->event, TFST_FRAME_OPEN_FAIL, &h, &payload));
  g_assert_cmpuint(h.session, ==, 3);
  g_assert_cmpint(tfst_frame_decode_u32(&h, g_bytes_get_data(payload, NULL), &err), ==,
                  TFST_FRAME_OK);
  g_assert_cmpuint(err, ==, EDQUOT);
  g_assert_cmpuint(f->e->sessions.length, ==, 1);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD("/session/open-and-data", test_open_and_data);
  ADD("/session/fin-both-ways", test_fin_both_ways);
  ADD("/session/fin-before-open-ok", test_fin_before_open_ok);
  ADD("/session/rst-from-child", test_rst_from_child);
  ADD("/session/child-limit", test_child_limit);
#undef ADD
  return g_test_run();
}
