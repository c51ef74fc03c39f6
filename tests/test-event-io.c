/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Event input and target over real loopback sockets (port 0), with the
 * test's own sd-event loop: senders are plain sockets of the test, the
 * collector a socket it reads. */
#include "tfst-activation.h"
#include "tfst-error.h"
#include "tfst-event-input-private.h"
#include "tfst-event-target.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Generous for a loaded machine; every wait ends as soon as its condition
 * holds. */
#define WAIT_US (30 * G_USEC_PER_SEC)
#define LINE    100u

typedef struct {
  sd_event *ev;
  TfstLog log;
  TfstEventsConf *conf;
  TfstEventInput *in;
  GPtrArray *events; /* GBytes, in the order taken */
  guint from_tcp;
  guint malformed[TFST_EVENT_MALFORMED_KINDS];
  guint allow;   /* events taken before event_cb says -ENOSPC */
  guint refused; /* -ENOSPC answers */
  guint batches;
  guint batch_events;
  guint max_batch;
  TfstEventTarget *t;
  guint64 written_token;
  guint written_calls;
  guint state_changes;
  TfstEventTargetState state;
  int state_err;
  int server; /* the test collector's socket */
  GByteArray *got;
} Fixture;

/* ---- helpers ------------------------------------------------------------ */

static gboolean
wait_for(Fixture *fx, gboolean (*cond)(Fixture *fx))
{
  gint64 deadline = g_get_monotonic_time() + WAIT_US;

  while (!cond(fx)) {
    if (g_get_monotonic_time() > deadline)
      return FALSE;
    g_assert_cmpint(sd_event_run(fx->ev, 10 * 1000), >=, 0);
  }
  return TRUE;
}

/* Lets the loop run a few times for a negative check (nothing happens):
 * the positive half of each such test waits for the condition instead. */
static void
spin(Fixture *fx, guint runs)
{
  for (guint i = 0; i < runs; i++)
    g_assert_cmpint(sd_event_run(fx->ev, 10 * 1000), >=, 0);
}

static TfstEventsConf *
conf_new(void)
{
  TfstEventsConf *c = g_new0(TfstEventsConf, 1);

  c->name = g_strdup("syslog");
  c->listen = g_array_new(FALSE, TRUE, sizeof(TfstEventAddr));
  c->target_framing = TFST_EVENT_FRAMING_OCTET;
  c->spool.max_bytes = TFST_DEFAULT_SPOOL_SIZE;
  c->spool.sync_ms = TFST_DEFAULT_SPOOL_SYNC_MS;
  return c;
}

static void
conf_free(TfstEventsConf *c)
{
  g_array_unref(c->listen);
  g_free(c->name);
  g_free(c);
}

static TfstSockAddr
loopback(const char *ip, guint16 port)
{
  TfstSockAddr a;

  g_assert_true(tfst_addr_parse(ip, FALSE, &a, NULL));
  tfst_addr_set_port(&a, port);
  return a;
}

static void
conf_listen(TfstEventsConf *c, TfstEventTransport transport, const char *ip)
{
  TfstEventAddr a = {.transport = transport, .addr = loopback(ip, 0)};

  g_array_append_val(c->listen, a);
}

static int
event_cb(gpointer user_data, const guint8 *data, gsize len, gboolean from_tcp)
{
  Fixture *fx = user_data;

  g_assert_cmpuint(len, >=, 1);
  g_assert_cmpuint(len, <=, TFST_EVENT_MAX);
  if (fx->events->len >= fx->allow) {
    fx->refused++;
    return -ENOSPC;
  }
  g_ptr_array_add(fx->events, g_bytes_new(data, len));
  fx->from_tcp += from_tcp;
  fx->batch_events++;
  return 0;
}

static void
malformed_cb(gpointer user_data, TfstEventMalformed why, const char *peer)
{
  Fixture *fx = user_data;

  g_assert_cmpstr(peer, !=, "");
  fx->malformed[why]++;
}

static void
batch_cb(gpointer user_data)
{
  Fixture *fx = user_data;

  fx->batches++;
  fx->max_batch = MAX(fx->max_batch, fx->batch_events);
  fx->batch_events = 0;
}

static const TfstEventInputCallbacks input_cb = {event_cb, malformed_cb, batch_cb};

static void
input_start(Fixture *fx)
{
  g_autoptr(GError) error = NULL;

  fx->in = tfst_event_input_new(fx->ev, &fx->log, fx->conf, NULL, &input_cb, fx, &error);
  g_assert_no_error(error);
  g_assert_nonnull(fx->in);
}

static TfstSockAddr
bound(Fixture *fx, guint i)
{
  const GArray *addrs = tfst_event_input_addrs(fx->in);

  g_assert_cmpuint(i, <, addrs->len);
  g_assert_cmpuint(tfst_addr_port(&g_array_index(addrs, TfstEventAddr, i).addr), !=, 0);
  return g_array_index(addrs, TfstEventAddr, i).addr;
}

static int
client(int type, const TfstSockAddr *to, const char *from_ip)
{
  int fd = socket(to->sa.sa_family, type | SOCK_CLOEXEC, 0);

  g_assert_cmpint(fd, >=, 0);
  if (from_ip != NULL) {
    TfstSockAddr from = loopback(from_ip, 0);

    g_assert_cmpint(bind(fd, &from.sa, tfst_addr_len(&from)), ==, 0);
  }
  g_assert_cmpint(connect(fd, &to->sa, tfst_addr_len(to)), ==, 0);
  return fd;
}

static void
send_str(int fd, const char *s)
{
  g_assert_cmpint(send(fd, s, strlen(s), MSG_NOSIGNAL), ==, (gssize)strlen(s));
}

static void
assert_event(Fixture *fx, guint i, const char *expected)
{
  gsize len = 0;
  const char *data;

  g_assert_cmpuint(i, <, fx->events->len);
  data = g_bytes_get_data(g_ptr_array_index(fx->events, i), &len);
  g_assert_cmpmem(data, len, expected, strlen(expected));
}

static guint wanted;

static gboolean
have_events(Fixture *fx)
{
  return fx->events->len >= wanted;
}

static void
wait_events(Fixture *fx, guint n)
{
  wanted = n;
  g_assert_true(wait_for(fx, have_events));
  g_assert_cmpuint(fx->events->len, ==, n);
}

static const TfstEventInputCounters *
counters(Fixture *fx)
{
  return tfst_event_input_counters(fx->in);
}

static gboolean
no_connections(Fixture *fx)
{
  return counters(fx)->open_connections == 0;
}

static guint wanted_conns;

static gboolean
have_connections(Fixture *fx)
{
  return counters(fx)->connections + counters(fx)->refused_connections >= wanted_conns;
}

static void
wait_connections(Fixture *fx, guint n)
{
  wanted_conns = n;
  g_assert_true(wait_for(fx, have_connections));
}

static int closing_fd;

static gboolean
closed_by_input(Fixture *fx)
{
  char c;
  gssize n = recv(closing_fd, &c, 1, MSG_DONTWAIT);

  g_assert_cmpint(n, <=, 0);
  return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The input closed the connection: the sender reads end of stream (or a
 * reset, when the input closed with bytes unread). */
static void
wait_closed(Fixture *fx, int fd)
{
  closing_fd = fd;
  g_assert_true(wait_for(fx, closed_by_input));
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
  g_assert_cmpint(sd_event_new(&fx->ev), >=, 0);
  tfst_log_init(&fx->log, "gwproxy", "test", "gw", 1);
  fx->conf = conf_new();
  fx->events = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  fx->allow = G_MAXUINT;
  fx->server = -1;
  fx->got = g_byte_array_new();
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
  tfst_event_input_free(fx->in);
  tfst_event_target_free(fx->t);
  if (fx->server >= 0)
    close(fx->server);
  g_byte_array_unref(fx->got);
  g_ptr_array_unref(fx->events);
  conf_free(fx->conf);
  sd_event_unref(fx->ev);
}

/* ---- input: UDP --------------------------------------------------------- */

static void
test_udp(Fixture *fx, gconstpointer data)
{
  g_autofree char *big = g_malloc(65507);
  TfstSockAddr to;
  int fd;

  conf_listen(fx->conf, TFST_EVENT_UDP, "127.0.0.1");
  conf_listen(fx->conf, TFST_EVENT_UDP, "::1");
  input_start(fx);
  to = bound(fx, 0);
  fd = client(SOCK_DGRAM, &to, NULL);
  send_str(fd, "<13>one");
  g_assert_cmpint(send(fd, "", 0, 0), ==, 0);
  send_str(fd, "two\n");
  /* The largest UDP payload over IPv4 is an event as it is. */
  memset(big, 'b', 65507);
  g_assert_cmpint(send(fd, big, 65507, 0), ==, 65507);
  wait_events(fx, 3);
  close(fd);
  assert_event(fx, 0, "<13>one");
  assert_event(fx, 1, "two\n");
  g_assert_cmpuint(g_bytes_get_size(g_ptr_array_index(fx->events, 2)), ==, 65507);
  g_assert_cmpuint(fx->from_tcp, ==, 0);
  g_assert_cmpuint(fx->malformed[TFST_EVENT_MALFORMED_EMPTY], ==, 1);
  g_assert_cmpuint(counters(fx)->malformed[TFST_EVENT_MALFORMED_EMPTY], ==, 1);
  g_assert_cmpuint(counters(fx)->datagrams, ==, 3);
  g_assert_cmpuint(fx->batches, >=, 1);

  /* The second Listen= address, IPv6. */
  to = bound(fx, 1);
  fd = client(SOCK_DGRAM, &to, NULL);
  send_str(fd, "six");
  wait_events(fx, 4);
  assert_event(fx, 3, "six");
  close(fd);
  tfst_event_input_clear_counters(fx->in);
  g_assert_cmpuint(counters(fx)->datagrams, ==, 0);
}

static guint drops_sent;
static int drops_fd = -1;

/* Every datagram was either read or counted as dropped by the kernel; the
 * count arrives with the next datagram read, so one more is sent each
 * time until the books balance. */
static gboolean
drops_balance(Fixture *fx)
{
  if (counters(fx)->datagrams + counters(fx)->kernel_drops == drops_sent)
    return TRUE;
  send_str(drops_fd, "marker");
  drops_sent++;
  return FALSE;
}

static void
test_udp_kernel_drops(Fixture *fx, gconstpointer data)
{
  char buf[1400];
  TfstSockAddr to;

  conf_listen(fx->conf, TFST_EVENT_UDP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  drops_fd = client(SOCK_DGRAM, &to, NULL);
  memset(buf, 'd', sizeof(buf));
  /* Far more than the 4 MiB socket buffer holds while nobody reads. */
  for (drops_sent = 0; drops_sent < 20000; drops_sent++)
    g_assert_cmpint(send(drops_fd, buf, sizeof(buf), 0), ==, (gssize)sizeof(buf));
  g_assert_true(wait_for(fx, drops_balance));
  g_assert_cmpuint(counters(fx)->kernel_drops, >, 0);
  g_assert_cmpuint(counters(fx)->datagrams, >, 0);
  close(drops_fd);
}

/* ---- input: TCP --------------------------------------------------------- */

static void
test_tcp_octet(Fixture *fx, gconstpointer data)
{
  TfstSockAddr to;
  int fd;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  fd = client(SOCK_STREAM, &to, NULL);
  send_str(fd, "5 hel");
  send_str(fd, "lo11 <13>1 a\nb c");
  wait_events(fx, 2);
  assert_event(fx, 0, "hello");
  assert_event(fx, 1, "<13>1 a\nb c");
  g_assert_cmpuint(fx->from_tcp, ==, 2);
  g_assert_cmpuint(counters(fx)->tcp_events, ==, 2);
  g_assert_cmpuint(counters(fx)->connections, ==, 1);
  g_assert_cmpuint(counters(fx)->open_connections, ==, 1);
  /* Closed inside an event: truncated. */
  send_str(fd, "10 abc");
  close(fd);
  g_assert_true(wait_for(fx, no_connections));
  g_assert_cmpuint(fx->malformed[TFST_EVENT_MALFORMED_TRUNCATED], ==, 1);
  g_assert_cmpuint(fx->events->len, ==, 2);
}

static void
test_tcp_lines(Fixture *fx, gconstpointer data)
{
  TfstSockAddr to;
  int fd;

  conf_listen(fx->conf, TFST_EVENT_TCP, "::1");
  input_start(fx);
  to = bound(fx, 0);
  fd = client(SOCK_STREAM, &to, NULL);
  send_str(fd, "<13>a\nb\r\n\nla");
  send_str(fd, "st");
  wait_events(fx, 2);
  g_assert_cmpuint(fx->malformed[TFST_EVENT_MALFORMED_EMPTY], ==, 1);
  /* The last line needs no LF: the end of the stream ends it. */
  close(fd);
  g_assert_true(wait_for(fx, no_connections));
  g_assert_cmpuint(fx->events->len, ==, 3);
  assert_event(fx, 0, "<13>a");
  assert_event(fx, 1, "b\r");
  assert_event(fx, 2, "last");
  g_assert_cmpuint(counters(fx)->malformed[TFST_EVENT_MALFORMED_TRUNCATED], ==, 0);
}

static void
send_all(int fd, const void *data, gsize len)
{
  const guint8 *p = data;

  while (len > 0) {
    gssize n = send(fd, p, len, MSG_NOSIGNAL);

    g_assert_cmpint(n, >, 0);
    p += n;
    len -= (gsize)n;
  }
}

static void
test_tcp_oversize_line(Fixture *fx, gconstpointer data)
{
  g_autofree char *line = g_malloc(TFST_EVENT_MAX + 2);
  TfstSockAddr to;
  int fd;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  fd = client(SOCK_STREAM, &to, NULL);
  /* 64 KiB + 1 is skipped, the connection stays; 64 KiB is an event. */
  memset(line, 'x', TFST_EVENT_MAX + 1);
  line[TFST_EVENT_MAX + 1] = '\n';
  send_str(fd, "first\n");
  wait_events(fx, 1);
  send_all(fd, line, TFST_EVENT_MAX + 2);
  send_all(fd, line + 1, TFST_EVENT_MAX + 1);
  send_str(fd, "after\n");
  wait_events(fx, 3);
  g_assert_cmpuint(g_bytes_get_size(g_ptr_array_index(fx->events, 1)), ==, TFST_EVENT_MAX);
  assert_event(fx, 2, "after");
  g_assert_cmpuint(fx->malformed[TFST_EVENT_MALFORMED_OVERSIZE], ==, 1);
  g_assert_cmpuint(counters(fx)->open_connections, ==, 1);
  close(fd);
}

static void
test_tcp_framing_lost(Fixture *fx, gconstpointer data)
{
  TfstSockAddr to;
  int fd;
  int fd2;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  /* Junk after an event: framing lost, the connection closed. */
  fd = client(SOCK_STREAM, &to, NULL);
  send_str(fd, "3 abc junk");
  wait_closed(fx, fd);
  close(fd);
  /* A count above 64 KiB: oversize, and no way to find the next frame. */
  fd2 = client(SOCK_STREAM, &to, NULL);
  send_str(fd2, "2 ok70000 ");
  wait_closed(fx, fd2);
  close(fd2);
  g_assert_true(wait_for(fx, no_connections));
  g_assert_cmpuint(fx->events->len, ==, 2);
  assert_event(fx, 0, "abc");
  assert_event(fx, 1, "ok");
  g_assert_cmpuint(fx->malformed[TFST_EVENT_MALFORMED_FRAMING], ==, 1);
  g_assert_cmpuint(fx->malformed[TFST_EVENT_MALFORMED_OVERSIZE], ==, 1);
  g_assert_cmpuint(counters(fx)->malformed[TFST_EVENT_MALFORMED_FRAMING], ==, 1);
}

static gboolean
was_refused(Fixture *fx)
{
  return fx->refused > 0;
}

static void
test_tcp_held_and_resumed(Fixture *fx, gconstpointer data)
{
  TfstSockAddr to;
  int fd;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  fd = client(SOCK_STREAM, &to, NULL);
  /* The owner cannot take events (a full spool with SpoolFull=block). */
  fx->allow = 0;
  send_str(fd, "1 a1 b1 c");
  g_assert_true(wait_for(fx, was_refused));
  send_str(fd, "1 d");
  spin(fx, 20);
  /* One try: the connection stopped reading until resumed. */
  g_assert_cmpuint(fx->refused, ==, 1);
  g_assert_cmpuint(fx->events->len, ==, 0);
  fx->allow = G_MAXUINT;
  tfst_event_input_resume(fx->in);
  /* Offered again from the loop, not inside the owner's call. */
  g_assert_cmpuint(fx->events->len, ==, 0);
  wait_events(fx, 4);
  assert_event(fx, 0, "a");
  assert_event(fx, 1, "b");
  assert_event(fx, 2, "c");
  assert_event(fx, 3, "d");
  close(fd);
}

static void
test_tcp_held_at_eof(Fixture *fx, gconstpointer data)
{
  TfstSockAddr to;
  int fd;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  fd = client(SOCK_STREAM, &to, NULL);
  /* The unterminated last line, known only at the end of the stream, is
   * refused: the connection stays until it is taken. */
  fx->allow = 1;
  send_str(fd, "x\nlast");
  g_assert_cmpint(shutdown(fd, SHUT_WR), ==, 0);
  g_assert_true(wait_for(fx, was_refused));
  spin(fx, 5);
  g_assert_cmpuint(counters(fx)->open_connections, ==, 1);
  fx->allow = G_MAXUINT;
  tfst_event_input_resume(fx->in);
  g_assert_true(wait_for(fx, no_connections));
  g_assert_cmpuint(fx->events->len, ==, 2);
  assert_event(fx, 1, "last");
  wait_closed(fx, fd);
  close(fd);
}

static void
test_pause(Fixture *fx, gconstpointer data)
{
  TfstSockAddr tcp_to;
  TfstSockAddr udp_to;
  int tcp;
  int udp;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  conf_listen(fx->conf, TFST_EVENT_UDP, "127.0.0.1");
  input_start(fx);
  tcp_to = bound(fx, 0);
  udp_to = bound(fx, 1);
  tcp = client(SOCK_STREAM, &tcp_to, NULL);
  udp = client(SOCK_DGRAM, &udp_to, NULL);
  send_str(tcp, "before\n");
  wait_events(fx, 1);
  tfst_event_input_pause(fx->in);
  send_str(tcp, "during\n");
  /* UDP is still read: the owner drops what it cannot take. */
  send_str(udp, "datagram");
  wait_events(fx, 2);
  assert_event(fx, 1, "datagram");
  spin(fx, 10);
  g_assert_cmpuint(fx->events->len, ==, 2);
  tfst_event_input_resume(fx->in);
  wait_events(fx, 3);
  assert_event(fx, 2, "during");
  close(tcp);
  close(udp);
}

/* Both ends of every connection are in this process: more than the usual
 * soft limit of 1024 descriptors.  Raised to what is needed, if the hard
 * limit allows. */
static gboolean
raise_nofile(rlim_t need)
{
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
    return FALSE;
  if (rl.rlim_cur >= need)
    return TRUE;
  if (rl.rlim_max < need)
    return FALSE;
  rl.rlim_cur = need;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* Out of descriptors, a TCP listener stays readable: the input must pause
 * accepting, not spin through the loop (it did when its pause timer was
 * made at that moment, which needs a descriptor itself). */
static void
test_accept_emfile(Fixture *fx, gconstpointer data)
{
  struct rlimit saved, low;
  int fds[8];
  guint dispatched = 0;
  TfstSockAddr to;
  gint64 until;
  int lowest_free;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
    fds[i] = client(SOCK_STREAM, &to, "127.0.0.1");
  g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
  /* accept() takes the lowest free descriptor: below the limit no more. */
  lowest_free = fcntl(0, F_DUPFD_CLOEXEC, 0);
  g_assert_cmpint(lowest_free, >=, 0);
  close(lowest_free);
  low = saved;
  low.rlim_cur = (rlim_t)lowest_free;
  g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
  until = g_get_monotonic_time() + 300 * 1000;
  while (g_get_monotonic_time() < until) {
    int r = sd_event_run(fx->ev, 20 * 1000);
    g_assert_cmpint(r, >=, 0);
    dispatched += r > 0;
  }
  g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
  /* A pause of 100 ms: a few dispatches, not thousands. */
  g_assert_cmpuint(dispatched, <, 50);
  wait_connections(fx, G_N_ELEMENTS(fds));
  for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
    close(fds[i]);
}

static void
test_tcp_caps(Fixture *fx, gconstpointer data)
{
  g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
  TfstSockAddr to;
  int extra;

  if (!raise_nofile(2 * TFST_EVENT_INPUT_MAX_CONNS + 256)) {
    g_test_skip("the hard RLIMIT_NOFILE is below the 1280 descriptors this case needs (both "
                "ends of 514 connections in one process)");
    return;
  }
  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  /* 64 from one address... */
  for (guint i = 0; i < TFST_EVENT_INPUT_MAX_CONNS_PER_IP; i++) {
    int fd = client(SOCK_STREAM, &to, "127.0.0.2");

    g_array_append_val(fds, fd);
  }
  wait_connections(fx, TFST_EVENT_INPUT_MAX_CONNS_PER_IP);
  extra = client(SOCK_STREAM, &to, "127.0.0.2");
  wait_connections(fx, TFST_EVENT_INPUT_MAX_CONNS_PER_IP + 1);
  wait_closed(fx, extra);
  close(extra);
  g_assert_cmpuint(counters(fx)->refused_connections, ==, 1);
  g_assert_cmpuint(counters(fx)->open_connections, ==, TFST_EVENT_INPUT_MAX_CONNS_PER_IP);
  /* ...while other addresses still get in, up to 512 in all. */
  for (guint i = TFST_EVENT_INPUT_MAX_CONNS_PER_IP; i < TFST_EVENT_INPUT_MAX_CONNS; i++) {
    g_autofree char *ip = g_strdup_printf("127.0.1.%u", i / TFST_EVENT_INPUT_MAX_CONNS_PER_IP);
    int fd = client(SOCK_STREAM, &to, ip);

    g_array_append_val(fds, fd);
  }
  wait_connections(fx, TFST_EVENT_INPUT_MAX_CONNS + 1);
  g_assert_cmpuint(counters(fx)->open_connections, ==, TFST_EVENT_INPUT_MAX_CONNS);
  extra = client(SOCK_STREAM, &to, "127.0.2.1");
  wait_connections(fx, TFST_EVENT_INPUT_MAX_CONNS + 2);
  wait_closed(fx, extra);
  close(extra);
  g_assert_cmpuint(counters(fx)->refused_connections, ==, 2);
  /* Every connection kept works. */
  send_str(g_array_index(fds, int, 0), "first\n");
  send_str(g_array_index(fds, int, fds->len - 1), "last\n");
  wait_events(fx, 2);
  for (guint i = 0; i < fds->len; i++)
    close(g_array_index(fds, int, i));
  g_assert_true(wait_for(fx, no_connections));
}

static guint flood_lines;
static int flood_fd;
static char flood_line[LINE];
static gsize flood_tail; /* bytes of the last line not sent yet */

static gboolean
all_flood_events(Fixture *fx)
{
  if (flood_tail > 0) {
    gssize r = send(flood_fd, flood_line + LINE - flood_tail, flood_tail, MSG_NOSIGNAL);

    g_assert_true(r > 0 || errno == EAGAIN);
    flood_tail -= r > 0 ? (gsize)r : 0;
  }
  return fx->events->len >= flood_lines + 1;
}

static gboolean
quiet_seen(Fixture *fx)
{
  for (guint i = 0; i < fx->events->len; i++) {
    if (g_bytes_get_size(g_ptr_array_index(fx->events, i)) == 5)
      return TRUE;
  }
  return FALSE;
}

/* Fills the connection's socket buffers with lines until the kernel takes
 * no more; the rest of a line it took in part is sent later. */
static guint
flood(int fd)
{
  guint n = 0;

  flood_fd = fd;
  memset(flood_line, 'f', sizeof(flood_line));
  flood_line[LINE - 1] = '\n';
  g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
  for (;;) {
    gssize r = send(fd, flood_line, LINE, MSG_NOSIGNAL);

    if (r < 0 && errno == EAGAIN)
      break;
    g_assert_cmpint(r, >, 0);
    n++;
    if (r < (gssize)LINE) {
      flood_tail = LINE - (gsize)r;
      break;
    }
  }
  return n;
}

static void
test_tcp_fairness(Fixture *fx, gconstpointer data)
{
  const guint per_dispatch = (TFST_EVENT_CONN_READ_BUDGET + LINE - 1) / LINE + 1;
  TfstSockAddr to;
  int flooder;
  int quiet;
  guint before_quiet;

  conf_listen(fx->conf, TFST_EVENT_TCP, "127.0.0.1");
  input_start(fx);
  to = bound(fx, 0);
  flooder = client(SOCK_STREAM, &to, NULL);
  quiet = client(SOCK_STREAM, &to, NULL);
  wait_connections(fx, 2);
  flood_lines = flood(flooder);
  /* Far more than one dispatch may read, or the test shows nothing. */
  g_assert_cmpuint(flood_lines, >, 8 * per_dispatch);
  send_str(quiet, "quiet");
  g_assert_cmpint(shutdown(quiet, SHUT_WR), ==, 0);
  g_assert_true(wait_for(fx, quiet_seen));
  before_quiet = fx->events->len - 1;
  /* The quiet sender's event came after at most a few dispatches of the
   * flood, each reading at most 256 KiB. */
  g_assert_cmpuint(before_quiet, <=, 3 * per_dispatch);
  g_assert_true(wait_for(fx, all_flood_events));
  g_assert_cmpuint(fx->max_batch, <=, per_dispatch);
  g_assert_cmpuint(fx->events->len, ==, flood_lines + 1);
  close(flooder);
  close(quiet);
}

/* ---- input: setup ------------------------------------------------------- */

/* NULL when the address is taken (EADDRINUSE). */
static TfstActivatedFd *
activated_try_new(int type, const TfstSockAddr *addr)
{
  TfstActivatedFd *a = g_new0(TfstActivatedFd, 1);
  socklen_t len = sizeof(a->addr);

  a->fd = socket(addr->sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  g_assert_cmpint(a->fd, >=, 0);
  if (bind(a->fd, &addr->sa, tfst_addr_len(addr)) < 0) {
    g_assert_cmpint(errno, ==, EADDRINUSE);
    close(a->fd);
    g_free(a);
    return NULL;
  }
  if (type == SOCK_STREAM)
    g_assert_cmpint(listen(a->fd, 16), ==, 0);
  g_assert_cmpint(getsockname(a->fd, &a->addr.sa, &len), ==, 0);
  a->type = type;
  a->name = g_strdup("tfst-gwproxy@test.socket");
  return a;
}

static TfstActivatedFd *
activated_new(int type, const TfstSockAddr *addr)
{
  TfstActivatedFd *a = activated_try_new(type, addr);

  g_assert_nonnull(a);
  return a;
}

static void
activated_free(TfstActivatedFd *a)
{
  if (!a->claimed)
    close(a->fd);
  g_free(a->name);
  g_free(a);
}

static void
test_activated(Fixture *fx, gconstpointer data)
{
  g_autoptr(GPtrArray) fds = g_ptr_array_new_with_free_func((GDestroyNotify)activated_free);
  g_autoptr(GError) error = NULL;
  TfstSockAddr any = loopback("127.0.0.1", 0);
  TfstActivatedFd *udp = NULL;
  TfstActivatedFd *tcp = NULL;
  TfstEventAddr want;
  int fd;

  /* TCP on the same port as the UDP socket: told apart by type.  The
   * kernel chose the UDP port; another process may hold it for TCP. */
  for (guint i = 0; i < 100 && tcp == NULL; i++) {
    g_clear_pointer(&udp, activated_free);
    udp = activated_new(SOCK_DGRAM, &any);
    tcp = activated_try_new(SOCK_STREAM, &udp->addr);
  }
  g_assert_nonnull(tcp);
  g_ptr_array_add(fds, udp);
  g_ptr_array_add(fds, tcp);
  want.addr = udp->addr;
  want.transport = TFST_EVENT_TCP;
  g_array_append_val(fx->conf->listen, want);
  want.transport = TFST_EVENT_UDP;
  g_array_append_val(fx->conf->listen, want);
  fx->in = tfst_event_input_new(fx->ev, &fx->log, fx->conf, fds, &input_cb, fx, &error);
  g_assert_no_error(error);
  g_assert_true(udp->claimed);
  g_assert_true(tcp->claimed);
  g_assert_true(tfst_activation_check_all_claimed(fds, NULL, NULL));
  fd = client(SOCK_DGRAM, &udp->addr, NULL);
  send_str(fd, "via udp");
  wait_events(fx, 1);
  close(fd);
  fd = client(SOCK_STREAM, &tcp->addr, NULL);
  send_str(fd, "via tcp\n");
  wait_events(fx, 2);
  close(fd);
  assert_event(fx, 0, "via udp");
  assert_event(fx, 1, "via tcp");
}

static void
test_bind_error(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  TfstSockAddr any = loopback("127.0.0.1", 0);
  TfstActivatedFd *busy = activated_new(SOCK_STREAM, &any);
  TfstEventAddr want = {.transport = TFST_EVENT_TCP, .addr = busy->addr};
  char buf[TFST_ADDR_STRLEN];

  conf_listen(fx->conf, TFST_EVENT_UDP, "127.0.0.1");
  g_array_append_val(fx->conf->listen, want);
  fx->in = tfst_event_input_new(fx->ev, &fx->log, fx->conf, NULL, &input_cb, fx, &error);
  g_assert_null(fx->in);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_BIND);
  expected = g_strdup_printf("Listen=tcp:%s", tfst_addr_format(&busy->addr, buf));
  g_assert_nonnull(strstr(error->message, expected));
  activated_free(busy);
}

/* ---- target ------------------------------------------------------------- */

static void
written_cb(gpointer user_data, guint64 token)
{
  Fixture *fx = user_data;

  g_assert_cmpuint(token, >, fx->written_token);
  fx->written_token = token;
  fx->written_calls++;
}

static void
state_cb(gpointer user_data, TfstEventTargetState state, int err)
{
  Fixture *fx = user_data;

  g_assert_cmpint(state, ==, tfst_event_target_state(fx->t));
  fx->state = state;
  fx->state_err = err;
  fx->state_changes++;
}

static const TfstEventTargetCallbacks target_cb = {written_cb, state_cb};

static void
target_start(Fixture *fx, TfstEventTransport transport, const TfstSockAddr *to)
{
  fx->conf->has_target = TRUE;
  fx->conf->target.transport = transport;
  fx->conf->target.addr = *to;
  fx->t = tfst_event_target_new(fx->ev, &fx->log, fx->conf, &target_cb, fx);
  g_assert_nonnull(fx->t);
}

static gboolean
target_up(Fixture *fx)
{
  return tfst_event_target_state(fx->t) == TFST_EVENT_TARGET_UP;
}

static gboolean
target_down(Fixture *fx)
{
  return tfst_event_target_state(fx->t) == TFST_EVENT_TARGET_DOWN;
}

/* Bound to `addr`, or to a port of the kernel's choice written there;
 * SO_REUSEADDR lets a second socket join the same port. */
static gboolean
told_down(Fixture *fx)
{
  return fx->state == TFST_EVENT_TARGET_DOWN;
}

static int
udp_server(TfstSockAddr *addr)
{
  socklen_t len = sizeof(*addr);
  struct timeval tv = {.tv_sec = 30};
  int one = 1;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), ==, 0);
  g_assert_cmpint(bind(fd, &addr->sa, tfst_addr_len(addr)), ==, 0);
  g_assert_cmpint(getsockname(fd, &addr->sa, &len), ==, 0);
  g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), ==, 0);
  return fd;
}

static void
assert_datagram(int fd, const char *expected)
{
  char buf[256];
  gssize n = recv(fd, buf, sizeof(buf), 0);

  g_assert_cmpint(n, >=, 0);
  g_assert_cmpmem(buf, n, expected, strlen(expected));
}

static void
test_target_udp(Fixture *fx, gconstpointer data)
{
  TfstSockAddr to = loopback("127.0.0.1", 0);
  g_autofree guint8 *big = g_malloc0(TFST_EVENT_MAX);

  fx->server = udp_server(&to);
  target_start(fx, TFST_EVENT_UDP, &to);
  g_assert_cmpint(tfst_event_target_state(fx->t), ==, TFST_EVENT_TARGET_UP);
  /* One datagram per event, reported written before send returns. */
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"<13>one", 7, 1), ==, 0);
  g_assert_cmpuint(fx->written_token, ==, 1);
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"two\n", 4, 2), ==, 0);
  g_assert_cmpuint(fx->written_token, ==, 2);
  /* Too large for a datagram: dropped, and the stream goes on. */
  g_assert_cmpint(tfst_event_target_send(fx->t, big, TFST_EVENT_MAX, 3), ==, 0);
  g_assert_cmpuint(fx->written_token, ==, 3);
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"four", 4, 4), ==, 0);
  assert_datagram(fx->server, "<13>one");
  assert_datagram(fx->server, "two\n");
  assert_datagram(fx->server, "four");
  g_assert_cmpint(tfst_event_target_state(fx->t), ==, TFST_EVENT_TARGET_UP);
  g_assert_cmpstr(tfst_event_target_last_error(fx->t), ==, "");
}

static void
test_target_udp_refused(Fixture *fx, gconstpointer data)
{
  TfstSockAddr to = loopback("127.0.0.1", 0);
  TfstSockAddr elsewhere = loopback("127.0.0.1", 9);
  int holder = udp_server(&to);
  guint changes;
  guint64 token;
  int r;

  /* A socket connected elsewhere holds the port but takes nothing from
   * us: the kernel answers with ICMP port unreachable. */
  g_assert_cmpint(connect(holder, &elsewhere.sa, tfst_addr_len(&elsewhere)), ==, 0);
  target_start(fx, TFST_EVENT_UDP, &to);
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"lost", 4, 1), ==, 0);
  g_assert_true(wait_for(fx, target_down));
  g_assert_cmpint(fx->state_err, ==, ECONNREFUSED);
  g_assert_true(g_str_has_prefix(tfst_event_target_last_error(fx->t), "ECONNREFUSED: "));
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"x", 1, 2), ==, -ENOTCONN);
  /* The collector is back; the next try (after a second) finds it. */
  fx->server = udp_server(&to);
  g_assert_true(wait_for(fx, target_up));
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"back", 4, 3), ==, 0);
  assert_datagram(fx->server, "back");
  g_assert_cmpuint(fx->written_token, ==, 3);
  /* Gone again, found by a send: the send fails, and the owner hears of
   * the state change from the loop, not from inside its own call. */
  close(fx->server);
  fx->server = -1;
  changes = fx->state_changes;
  token = 3;
  while ((r = tfst_event_target_send(fx->t, (const guint8 *)"gone", 4, ++token)) == 0)
    g_assert_cmpuint(token, <, 100000);
  g_assert_cmpint(r, ==, -ECONNREFUSED);
  g_assert_cmpint(tfst_event_target_state(fx->t), ==, TFST_EVENT_TARGET_DOWN);
  g_assert_cmpuint(fx->state_changes, ==, changes);
  g_assert_true(wait_for(fx, told_down));
  g_assert_cmpint(fx->state_err, ==, ECONNREFUSED);
  close(holder);
}

/* A TCP listener, and a second socket holding its port (SO_REUSEADDR, not
 * listening) so that the collector can go away and come back on the same
 * port without the test ever releasing it. */
typedef struct {
  int holder;
  int listener;
  TfstSockAddr addr;
} Collector;

static int
reuse_socket(const TfstSockAddr *addr)
{
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), ==, 0);
  g_assert_cmpint(bind(fd, &addr->sa, tfst_addr_len(addr)), ==, 0);
  return fd;
}

static void
collector_listen(Collector *c)
{
  c->listener = reuse_socket(&c->addr);
  g_assert_cmpint(listen(c->listener, 16), ==, 0);
}

static void
collector_open(Collector *c)
{
  TfstSockAddr any = loopback("127.0.0.1", 0);
  socklen_t len = sizeof(c->addr);

  c->holder = reuse_socket(&any);
  g_assert_cmpint(getsockname(c->holder, &c->addr.sa, &len), ==, 0);
  collector_listen(c);
}

static void
collector_close(Collector *c)
{
  if (c->listener >= 0)
    close(c->listener);
  close(c->holder);
}

/* The connection the target made (it is up, so it is in the backlog). */
static void
collector_accept(Fixture *fx, Collector *c)
{
  fx->server = accept4(c->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  g_assert_cmpint(fx->server, >=, 0);
}

static gsize wanted_bytes;

static gboolean
collector_has(Fixture *fx)
{
  guint8 buf[65536];
  gssize n;

  while ((n = recv(fx->server, buf, sizeof(buf), 0)) > 0)
    g_byte_array_append(fx->got, buf, (guint)n);
  return fx->got->len >= wanted_bytes;
}

static void
assert_collected(Fixture *fx, const char *expected)
{
  wanted_bytes = strlen(expected);
  g_assert_true(wait_for(fx, collector_has));
  g_assert_cmpmem(fx->got->data, fx->got->len, expected, strlen(expected));
  g_byte_array_set_size(fx->got, 0);
}

static guint64 wanted_token;

static gboolean
written(Fixture *fx)
{
  return fx->written_token >= wanted_token;
}

static void
send_event(Fixture *fx, const char *s, guint64 token)
{
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)s, strlen(s), token), ==, 0);
}

static void
wait_written(Fixture *fx, guint64 token)
{
  wanted_token = token;
  g_assert_true(wait_for(fx, written));
  g_assert_cmpuint(fx->written_token, ==, token);
}

static void
tcp_target(Fixture *fx, Collector *c, TfstEventFraming framing)
{
  collector_open(c);
  fx->conf->target_framing = framing;
  target_start(fx, TFST_EVENT_TCP, &c->addr);
  /* Connecting happens in the loop, and so does writing. */
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"x", 1, 1), ==, -ENOTCONN);
  g_assert_true(wait_for(fx, target_up));
  g_assert_cmpint(fx->state, ==, TFST_EVENT_TARGET_UP);
  collector_accept(fx, c);
}

static void
test_target_tcp_octet(Fixture *fx, gconstpointer data)
{
  Collector c;

  tcp_target(fx, &c, TFST_EVENT_FRAMING_OCTET);
  send_event(fx, "<13>one", 10);
  send_event(fx, "two\nlines", 11);
  g_assert_cmpuint(fx->written_calls, ==, 0);
  wait_written(fx, 11);
  assert_collected(fx, "7 <13>one9 two\nlines");
  collector_close(&c);
}

static void
test_target_tcp_newline(Fixture *fx, gconstpointer data)
{
  Collector c;

  tcp_target(fx, &c, TFST_EVENT_FRAMING_NEWLINE);
  send_event(fx, "<13>one", 1);
  send_event(fx, "two", 2);
  wait_written(fx, 2);
  assert_collected(fx, "<13>one\ntwo\n");
  collector_close(&c);
}

static gboolean
refused_seen(Fixture *fx)
{
  return g_str_has_prefix(tfst_event_target_last_error(fx->t), "ECONNREFUSED: ");
}

static void
test_target_tcp_collector_restart(Fixture *fx, gconstpointer data)
{
  Collector c;

  tcp_target(fx, &c, TFST_EVENT_FRAMING_OCTET);
  send_event(fx, "a", 1);
  wait_written(fx, 1);
  assert_collected(fx, "1 a");
  /* The collector goes away: its connection and its listener. */
  close(fx->server);
  fx->server = -1;
  close(c.listener);
  c.listener = -1;
  g_assert_true(wait_for(fx, target_down));
  g_assert_cmpstr(tfst_event_target_last_error(fx->t), ==,
                  "EPIPE: the collector closed the connection");
  g_assert_cmpint(tfst_event_target_send(fx->t, (const guint8 *)"b", 1, 2), ==, -ENOTCONN);
  /* Tried again after a second, refused. */
  g_assert_true(wait_for(fx, refused_seen));
  g_assert_cmpint(fx->state, ==, TFST_EVENT_TARGET_DOWN);
  /* Back: Flush() connects at once instead of after the backoff. */
  collector_listen(&c);
  tfst_event_target_kick(fx->t);
  g_assert_cmpint(tfst_event_target_state(fx->t), ==, TFST_EVENT_TARGET_CONNECTING);
  g_assert_true(wait_for(fx, target_up));
  collector_accept(fx, &c);
  send_event(fx, "c", 3);
  wait_written(fx, 3);
  assert_collected(fx, "1 c");
  collector_close(&c);
}

static void
test_target_queue_full(Fixture *fx, gconstpointer data)
{
  g_autofree guint8 *big = g_malloc(TFST_EVENT_MAX);
  const guint fit = TFST_EVENT_TARGET_QUEUE / (TFST_EVENT_MAX + 6);
  Collector c;
  guint64 token = 0;
  int r;

  memset(big, 'q', TFST_EVENT_MAX);
  tcp_target(fx, &c, TFST_EVENT_FRAMING_OCTET);
  /* Without the loop nothing is written: the queue fills and refuses. */
  while ((r = tfst_event_target_send(fx->t, big, TFST_EVENT_MAX, token + 1)) == 0)
    token++;
  g_assert_cmpint(r, ==, -ENOBUFS);
  g_assert_cmpuint(token, ==, fit);
  /* The collector reads: everything arrives, in order, and there is room
   * again. */
  wanted_bytes = fit * (TFST_EVENT_MAX + 6);
  g_assert_true(wait_for(fx, collector_has));
  wait_written(fx, fit);
  g_assert_cmpuint(fx->got->len, ==, fit * (TFST_EVENT_MAX + 6));
  for (guint i = 0; i < fit; i++)
    g_assert_cmpmem(fx->got->data + i * (TFST_EVENT_MAX + 6), 6, "65536 ", 6);
  send_event(fx, "more", fit + 1);
  wait_written(fx, fit + 1);
  collector_close(&c);
}

static void
test_target_tcp_refused_at_start(Fixture *fx, gconstpointer data)
{
  Collector c;

  /* Nothing listens: down with the reason, retried with backoff. */
  collector_open(&c);
  close(c.listener);
  c.listener = -1;
  target_start(fx, TFST_EVENT_TCP, &c.addr);
  g_assert_true(wait_for(fx, target_down));
  g_assert_cmpint(fx->state_err, ==, ECONNREFUSED);
  g_assert_cmpstr(tfst_event_target_last_error(fx->t), ==,
                  "ECONNREFUSED: cannot connect to the collector");
  collector_listen(&c);
  g_assert_true(wait_for(fx, target_up));
  collector_accept(fx, &c);
  collector_close(&c);
}

#define ADD(path, fn)                                                                              \
  g_test_add("/tfst/event-io/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  ADD("udp", test_udp);
  ADD("udp-kernel-drops", test_udp_kernel_drops);
  ADD("tcp-octet", test_tcp_octet);
  ADD("tcp-lines", test_tcp_lines);
  ADD("tcp-oversize-line", test_tcp_oversize_line);
  ADD("tcp-framing-lost", test_tcp_framing_lost);
  ADD("tcp-held-and-resumed", test_tcp_held_and_resumed);
  ADD("tcp-held-at-eof", test_tcp_held_at_eof);
  ADD("pause", test_pause);
  ADD("tcp-caps", test_tcp_caps);
  ADD("accept-emfile", test_accept_emfile);
  ADD("tcp-fairness", test_tcp_fairness);
  ADD("activated", test_activated);
  ADD("bind-error", test_bind_error);
  ADD("target-udp", test_target_udp);
  ADD("target-udp-refused", test_target_udp_refused);
  ADD("target-tcp-octet", test_target_tcp_octet);
  ADD("target-tcp-newline", test_target_tcp_newline);
  ADD("target-tcp-collector-restart", test_target_tcp_collector_restart);
  ADD("target-tcp-refused-at-start", test_target_tcp_refused_at_start);
  ADD("target-queue-full", test_target_queue_full);
  return g_test_run();
}
