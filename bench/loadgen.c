/* SPDX-License-Identifier: GPL-2.0-or-later */
/* loadgen: load generator and target servers for the tfst benchmark.
 *
 * Plain C and epoll, no GLib: the tool must cost as little CPU as possible so
 * that the proxies under test, not the load generator, are the bottleneck.
 * It is built on demand by bench/run (cc -O2); it is not part of the meson
 * build and not a test.
 *
 * Modes (every client mode prints exactly one JSON object per report line):
 *   loadgen serve PORT
 *       Target server on 127.0.0.1:PORT.  Per connection, the first byte
 *       selects the behaviour:
 *         'S' + u64 N (big-endian): sink N bytes, then answer one byte 'A'.
 *         'R' + u64 N: send N bytes to the client.
 *         anything else: echo everything (including that first byte).
 *   loadgen bulk PORT SESSIONS BYTES up|down TIMEOUT_S
 *       SESSIONS parallel connections each move BYTES (up: client to server,
 *       down: server to client).  Time runs from the first connect until the
 *       last byte was confirmed (up: the sink's ack; down: last byte read).
 *   loadgen rr PORT COUNT SIZE
 *       One connection, COUNT request/response round trips of SIZE bytes
 *       against the echo behaviour; reports latency percentiles.
 *   loadgen setup PORT PARALLEL SECONDS
 *       PARALLEL connectors loop: connect, send 1 byte, await the echo, close.
 *   loadgen idle PORT COUNT CONCURRENCY TIMEOUT_S
 *       Opens COUNT sessions (CONCURRENCY in flight), each verified with a
 *       1-byte echo, prints a "ready" report, then holds them until stdin
 *       reaches EOF and prints a "done" report (sessions lost while held).
 *   loadgen churn PORT INTERVAL_US MAX_INFLIGHT TIMEOUT_S
 *       Open loop: starts a new session every INTERVAL_US whatever became of
 *       the earlier ones (at most MAX_INFLIGHT pending), each a 1-byte echo
 *       exchange, and prints one line per session as it ends: start and end
 *       (CLOCK_MONOTONIC seconds, the clock of Python's time.monotonic())
 *       and the result.  Runs until stdin reaches EOF; sessions still
 *       pending then are reported as "stuck".  Used by bench/failover.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE   (256 * 1024)
#define MAX_EVENTS 256

static char iobuf[BUF_SIZE];

static double
now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* Raise the soft fd limit to the hard one: the idle test holds 10^4 sockets. */
static void
raise_nofile(void)
{
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void
set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);

  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    die("fcntl");
}

static void
set_nodelay(int fd)
{
  int one = 1;

  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct sockaddr_in
loopback_addr(int port)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

/* Nonblocking connect; returns the fd (connection possibly in progress) or -1. */
static int
connect_nb(int port)
{
  struct sockaddr_in sa = loopback_addr(port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  set_nodelay(fd);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static int
connect_blocking(int port)
{
  struct sockaddr_in sa = loopback_addr(port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket");
  set_nodelay(fd);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    die("connect");
  return fd;
}

static int
socket_error(int fd)
{
  int err = 0;
  socklen_t len = sizeof err;

  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return errno;
  return err;
}

static void
ep_ctl(int ep, int op, int fd, uint32_t events, void *ptr)
{
  struct epoll_event ev = {.events = events, .data.ptr = ptr};

  if (epoll_ctl(ep, op, fd, &ev) < 0)
    die("epoll_ctl");
}

static void
put_u64(unsigned char *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    p[i] = v & 0xff;
    v >>= 8;
  }
}

static uint64_t
get_u64(const unsigned char *p)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

static double
percentile(const double *sorted, size_t n, double p)
{
  size_t i;

  if (n == 0)
    return 0;
  i = (size_t)(p / 100.0 * (n - 1) + 0.5);
  return sorted[i < n ? i : n - 1];
}

/* ---------------------------------------------------------------- server */

enum srv_state { SRV_HDR, SRV_SINK, SRV_SOURCE, SRV_ECHO, SRV_DRAIN };

struct srv_conn {
  int fd;
  enum srv_state state;
  unsigned char hdr[9];
  int hdr_len;
  uint64_t remain;
  char *pend; /* echo bytes the client has not taken yet */
  size_t pend_len, pend_off;
};

static void
srv_close(struct srv_conn *c)
{
  close(c->fd);
  free(c->pend);
  free(c);
}

static void
srv_events(int ep, struct srv_conn *c, uint32_t ev)
{
  ep_ctl(ep, EPOLL_CTL_MOD, c->fd, ev, c);
}

/* Write what the echo could not deliver; returns 0 when all is out. */
static int
srv_flush_pending(struct srv_conn *c)
{
  while (c->pend_off < c->pend_len) {
    ssize_t n = write(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

    if (n < 0)
      return errno == EAGAIN ? 1 : -1;
    c->pend_off += n;
  }
  free(c->pend);
  c->pend = NULL;
  c->pend_len = c->pend_off = 0;
  return 0;
}

static int
srv_echo(int ep, struct srv_conn *c, const char *data, size_t len)
{
  ssize_t n = write(c->fd, data, len);

  if (n < 0 && errno != EAGAIN)
    return -1;
  if (n < 0)
    n = 0;
  if ((size_t)n == len)
    return 0;
  /* The client is slow to read: park the rest and stop reading meanwhile. */
  c->pend = malloc(len - n);
  if (!c->pend)
    die("malloc");
  memcpy(c->pend, data + n, len - n);
  c->pend_len = len - n;
  c->pend_off = 0;
  srv_events(ep, c, EPOLLOUT);
  return 0;
}

static int
srv_start(int ep, struct srv_conn *c)
{
  if (c->hdr[0] != 'S' && c->hdr[0] != 'R') {
    c->state = SRV_ECHO;
    return srv_echo(ep, c, (const char *)c->hdr, c->hdr_len);
  }
  if (c->hdr_len < 9)
    return 0;
  c->remain = get_u64(c->hdr + 1);
  if (c->hdr[0] == 'S') {
    c->state = SRV_SINK;
    if (c->remain == 0) {
      c->state = SRV_DRAIN;
      return write(c->fd, "A", 1) == 1 ? 0 : -1;
    }
    return 0;
  }
  c->state = SRV_SOURCE;
  srv_events(ep, c, EPOLLIN | EPOLLOUT);
  return 0;
}

static int
srv_read_header(int ep, struct srv_conn *c)
{
  /* Read the header byte by byte so that no payload is consumed here; the
   * first byte alone decides echo mode. */
  ssize_t n = read(c->fd, c->hdr + c->hdr_len, c->hdr_len == 0 ? 1 : 9 - c->hdr_len);

  if (n <= 0)
    return n == 0 || errno != EAGAIN ? -1 : 0;
  c->hdr_len += n;
  return srv_start(ep, c);
}

static int
srv_sink(struct srv_conn *c)
{
  size_t want = c->remain < BUF_SIZE ? c->remain : BUF_SIZE;
  /* MSG_TRUNC on TCP discards without copying: the sink stays cheap. */
  ssize_t n = recv(c->fd, iobuf, want, MSG_TRUNC);

  if (n <= 0)
    return n == 0 || errno != EAGAIN ? -1 : 0;
  c->remain -= n;
  if (c->remain == 0) {
    c->state = SRV_DRAIN;
    if (write(c->fd, "A", 1) != 1)
      return -1;
  }
  return 0;
}

static int
srv_source(int ep, struct srv_conn *c)
{
  while (c->remain > 0) {
    size_t want = c->remain < BUF_SIZE ? c->remain : BUF_SIZE;
    ssize_t n = write(c->fd, iobuf, want);

    if (n < 0)
      return errno == EAGAIN ? 0 : -1;
    c->remain -= n;
  }
  c->state = SRV_DRAIN;
  srv_events(ep, c, EPOLLIN);
  return 0;
}

static int
srv_readable(int ep, struct srv_conn *c)
{
  ssize_t n;

  switch (c->state) {
    case SRV_HDR:
      return srv_read_header(ep, c);
    case SRV_SINK:
      return srv_sink(c);
    case SRV_ECHO:
      n = read(c->fd, iobuf, BUF_SIZE);
      if (n <= 0)
        return n == 0 || errno != EAGAIN ? -1 : 0;
      return srv_echo(ep, c, iobuf, n);
    default:
      n = recv(c->fd, iobuf, BUF_SIZE, MSG_TRUNC);
      return n == 0 || (n < 0 && errno != EAGAIN) ? -1 : 0;
  }
}

static int
srv_writable(int ep, struct srv_conn *c)
{
  int r;

  if (c->state == SRV_SOURCE)
    return srv_source(ep, c);
  r = srv_flush_pending(c);
  if (r == 0)
    srv_events(ep, c, EPOLLIN);
  return r < 0 ? -1 : 0;
}

static void
srv_accept(int ep, int lfd)
{
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct srv_conn *c;

    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        fprintf(stderr, "loadgen serve: accept: %s\n", strerror(errno));
      return;
    }
    set_nodelay(fd);
    c = calloc(1, sizeof *c);
    if (!c)
      die("calloc");
    c->fd = fd;
    ep_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, c);
  }
}

static int
listen_on(int port)
{
  struct sockaddr_in sa = loopback_addr(port);
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket");
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    die("bind");
  if (listen(fd, 4096) < 0)
    die("listen");
  return fd;
}

static int
mode_serve(int port)
{
  static int listener_tag;
  struct epoll_event evs[MAX_EVENTS];
  int lfd = listen_on(port);
  int ep = epoll_create1(EPOLL_CLOEXEC);

  ep_ctl(ep, EPOLL_CTL_ADD, lfd, EPOLLIN, &listener_tag);
  printf("{\"listening\": %d}\n", port);
  fflush(stdout);
  for (;;) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, -1);

    for (int i = 0; i < n; i++) {
      struct srv_conn *c = evs[i].data.ptr;
      int r = 0;

      if (evs[i].data.ptr == &listener_tag) {
        srv_accept(ep, lfd);
        continue;
      }
      if (c->pend && (evs[i].events & (EPOLLERR | EPOLLHUP)))
        r = -1; /* echo backlog pending: reading more would reorder it */
      else if (!c->pend && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        r = srv_readable(ep, c);
      if (r == 0 && (evs[i].events & EPOLLOUT))
        r = srv_writable(ep, c);
      if (r < 0)
        srv_close(c);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ bulk */

struct bulk_conn {
  int fd;
  uint64_t remain;
  int done;
  double t_done;
};

static int
bulk_up_step(int ep, struct bulk_conn *c, uint32_t ev)
{
  if (c->remain > 0 && (ev & EPOLLOUT)) {
    while (c->remain > 0) {
      size_t want = c->remain < BUF_SIZE ? c->remain : BUF_SIZE;
      ssize_t n = write(c->fd, iobuf, want);

      if (n < 0) {
        if (errno == EAGAIN)
          return 0;
        return -1;
      }
      c->remain -= n;
    }
    ep_ctl(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
    return 0;
  }
  if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    char ack;
    ssize_t n = read(c->fd, &ack, 1);

    if (n == 1 && c->remain == 0) {
      c->done = 1;
      return 1;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN))
      return -1;
  }
  return 0;
}

static int
bulk_down_step(struct bulk_conn *c)
{
  for (;;) {
    size_t want = c->remain < BUF_SIZE ? c->remain : BUF_SIZE;
    ssize_t n = recv(c->fd, iobuf, want, MSG_TRUNC);

    if (n < 0)
      return errno == EAGAIN ? 0 : -1;
    if (n == 0)
      return -1;
    c->remain -= n;
    if (c->remain == 0) {
      c->done = 1;
      return 1;
    }
  }
}

static int
mode_bulk(int port, int sessions, uint64_t bytes, int up, double timeout)
{
  struct epoll_event evs[MAX_EVENTS];
  struct bulk_conn *conns = calloc(sessions, sizeof *conns);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int left = sessions;
  double t0 = now_s(), t_end;
  const char *err = NULL;

  for (int i = 0; i < sessions; i++) {
    unsigned char hdr[9];

    hdr[0] = up ? 'S' : 'R';
    put_u64(hdr + 1, bytes);
    conns[i].fd = connect_blocking(port);
    conns[i].remain = bytes;
    if (write(conns[i].fd, hdr, 9) != 9)
      die("write header");
    set_nonblock(conns[i].fd);
    ep_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, up ? EPOLLOUT | EPOLLIN : EPOLLIN, &conns[i]);
  }
  while (left > 0 && !err) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);

    if (now_s() - t0 > timeout)
      err = "timeout";
    for (int i = 0; i < n && !err; i++) {
      struct bulk_conn *c = evs[i].data.ptr;
      int r = up ? bulk_up_step(ep, c, evs[i].events) : bulk_down_step(c);

      if (r < 0)
        err = "connection failed";
      if (r > 0) {
        c->t_done = now_s() - t0;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        left--;
      }
    }
  }
  t_end = now_s() - t0;
  if (err) {
    printf("{\"error\": \"%s\", \"completed\": %d}\n", err, sessions - left);
    return 1;
  }
  {
    double first = t_end;

    for (int i = 0; i < sessions; i++) {
      if (conns[i].t_done < first)
        first = conns[i].t_done;
      close(conns[i].fd);
    }
    printf("{\"seconds\": %.6f, \"bytes\": %llu, \"MiBps\": %.2f, \"first_done_s\": %.6f}\n", t_end,
           (unsigned long long)bytes * sessions, bytes * (double)sessions / t_end / 1048576.0,
           first);
  }
  return 0;
}

/* -------------------------------------------------------------------- rr */

static int
read_full(int fd, char *buf, size_t len)
{
  size_t got = 0;

  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);

    if (n <= 0)
      return -1;
    got += n;
  }
  return 0;
}

static int
mode_rr(int port, int count, int size)
{
  int fd = connect_blocking(port);
  int warmup = count / 20 + 10;
  double *lat = calloc(count, sizeof *lat);
  char *req = malloc(size), *resp = malloc(size);
  double sum = 0, t_all;

  memset(req, 'x', size);
  t_all = now_s();
  for (int i = -warmup; i < count; i++) {
    double t0 = now_s();

    if (write(fd, req, size) != size || read_full(fd, resp, size) < 0) {
      printf("{\"error\": \"echo failed after %d round trips\"}\n", i + warmup);
      return 1;
    }
    if (i >= 0)
      lat[i] = (now_s() - t0) * 1e6;
  }
  t_all = now_s() - t_all;
  for (int i = 0; i < count; i++)
    sum += lat[i];
  qsort(lat, count, sizeof *lat, cmp_double);
  printf("{\"count\": %d, \"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, "
         "\"mean_us\": %.2f, \"max_us\": %.2f, \"seconds\": %.3f}\n",
         count, percentile(lat, count, 50), percentile(lat, count, 90), percentile(lat, count, 99),
         percentile(lat, count, 99.9), sum / count, lat[count - 1], t_all);
  close(fd);
  return 0;
}

/* ----------------------------------------------------------------- setup */

enum setup_state { ST_CONNECTING, ST_WAIT_ECHO };

struct setup_conn {
  int fd;
  enum setup_state state;
  double t_start;
};

struct setup_stats {
  long done, errors;
  double *lat;
  size_t lat_len, lat_cap;
};

static void
setup_record(struct setup_stats *st, double us)
{
  if (st->lat_len == st->lat_cap) {
    st->lat_cap = st->lat_cap ? st->lat_cap * 2 : 65536;
    st->lat = realloc(st->lat, st->lat_cap * sizeof *st->lat);
    if (!st->lat)
      die("realloc");
  }
  st->lat[st->lat_len++] = us;
  st->done++;
}

static void
setup_begin(int ep, int port, struct setup_conn *c, struct setup_stats *st)
{
  for (;;) {
    c->fd = connect_nb(port);
    c->state = ST_CONNECTING;
    c->t_start = now_s();
    if (c->fd >= 0)
      break;
    st->errors++;
    usleep(1000);
  }
  ep_ctl(ep, EPOLL_CTL_ADD, c->fd, EPOLLOUT, c);
}

/* Returns 1 when this connection finished (ok or not). */
static int
setup_step(int ep, struct setup_conn *c, struct setup_stats *st)
{
  char b = 'x';
  ssize_t n;

  if (c->state == ST_CONNECTING) {
    if (socket_error(c->fd) != 0 || write(c->fd, &b, 1) != 1) {
      st->errors++;
      return 1;
    }
    c->state = ST_WAIT_ECHO;
    ep_ctl(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
    return 0;
  }
  n = read(c->fd, &b, 1);
  if (n == 1)
    setup_record(st, (now_s() - c->t_start) * 1e6);
  else if (n < 0 && errno == EAGAIN)
    return 0;
  else
    st->errors++;
  return 1;
}

static int
mode_setup(int port, int parallel, double seconds)
{
  struct epoll_event evs[MAX_EVENTS];
  struct setup_conn *conns = calloc(parallel, sizeof *conns);
  struct setup_stats st = {0};
  int ep = epoll_create1(EPOLL_CLOEXEC);
  double t0 = now_s(), elapsed;

  for (int i = 0; i < parallel; i++)
    setup_begin(ep, port, &conns[i], &st);
  while ((elapsed = now_s() - t0) < seconds) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, 100);

    for (int i = 0; i < n; i++) {
      struct setup_conn *c = evs[i].data.ptr;

      if (setup_step(ep, c, &st)) {
        close(c->fd);
        if (st.errors > 1000 && st.errors > st.done) {
          printf("{\"error\": \"%ld failed sessions\", \"completed\": %ld}\n", st.errors, st.done);
          return 1;
        }
        setup_begin(ep, port, c, &st);
      }
    }
  }
  qsort(st.lat, st.lat_len, sizeof *st.lat, cmp_double);
  printf("{\"sessions\": %ld, \"errors\": %ld, \"seconds\": %.3f, \"rate\": %.1f, "
         "\"p50_us\": %.1f, \"p99_us\": %.1f}\n",
         st.done, st.errors, elapsed, st.done / elapsed, percentile(st.lat, st.lat_len, 50),
         percentile(st.lat, st.lat_len, 99));
  return 0;
}

/* ------------------------------------------------------------------ idle */

enum idle_state { IDLE_CONNECTING, IDLE_WAIT_ECHO, IDLE_HELD, IDLE_DEAD };

struct idle_conn {
  int fd;
  enum idle_state state;
};

struct idle_ctx {
  int ep, port;
  struct idle_conn *conns;
  int count, next, inflight, established, failed, lost;
};

static void
idle_open_more(struct idle_ctx *x, int concurrency)
{
  while (x->inflight < concurrency && x->next < x->count) {
    struct idle_conn *c = &x->conns[x->next++];

    c->fd = connect_nb(x->port);
    if (c->fd < 0) {
      c->state = IDLE_DEAD;
      x->failed++;
      continue;
    }
    c->state = IDLE_CONNECTING;
    ep_ctl(x->ep, EPOLL_CTL_ADD, c->fd, EPOLLOUT, c);
    x->inflight++;
  }
}

static void
idle_kill(struct idle_ctx *x, struct idle_conn *c)
{
  if (c->state == IDLE_HELD)
    x->lost++;
  else {
    x->failed++;
    x->inflight--;
  }
  c->state = IDLE_DEAD;
  close(c->fd);
}

static void
idle_step(struct idle_ctx *x, struct idle_conn *c)
{
  char b = 'x';
  ssize_t n;

  if (c->state == IDLE_CONNECTING) {
    if (socket_error(c->fd) != 0 || write(c->fd, &b, 1) != 1) {
      idle_kill(x, c);
      return;
    }
    c->state = IDLE_WAIT_ECHO;
    ep_ctl(x->ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
    return;
  }
  n = read(c->fd, &b, 1);
  if (n == 1 && c->state == IDLE_WAIT_ECHO) {
    c->state = IDLE_HELD;
    x->inflight--;
    x->established++;
    return;
  }
  if (n == 0 || (n < 0 && errno != EAGAIN))
    idle_kill(x, c);
}

static void
idle_poll(struct idle_ctx *x, int timeout_ms, int *stdin_eof)
{
  struct epoll_event evs[MAX_EVENTS];
  int n = epoll_wait(x->ep, evs, MAX_EVENTS, timeout_ms);

  for (int i = 0; i < n; i++) {
    if (evs[i].data.ptr == NULL) {
      *stdin_eof = 1;
      continue;
    }
    idle_step(x, evs[i].data.ptr);
  }
}

static int
mode_idle(int port, int count, int concurrency, double timeout)
{
  struct idle_ctx x = {.port = port, .count = count};
  int stdin_eof = 0;
  double t0 = now_s();

  x.ep = epoll_create1(EPOLL_CLOEXEC);
  x.conns = calloc(count, sizeof *x.conns);
  ep_ctl(x.ep, EPOLL_CTL_ADD, 0, EPOLLIN, NULL);
  while (x.established + x.failed < count && now_s() - t0 < timeout && !stdin_eof) {
    idle_open_more(&x, concurrency);
    idle_poll(&x, 100, &stdin_eof);
  }
  printf("{\"phase\": \"ready\", \"established\": %d, \"failed\": %d, \"seconds\": %.3f}\n",
         x.established, count - x.established, now_s() - t0);
  fflush(stdout);
  while (!stdin_eof)
    idle_poll(&x, 1000, &stdin_eof);
  printf("{\"phase\": \"done\", \"lost\": %d}\n", x.lost);
  fflush(stdout);
  return 0;
}

/* ------------------------------------------------------------------ churn */

/* A sender that waits for each session before it starts the next would stop
 * at the first session that hangs, and the gap would measure the client.
 * Starting on a timer instead keeps probing the proxy while sessions hang. */

enum churn_state { CH_FREE, CH_CONNECTING, CH_WAIT_ECHO };

struct churn_conn {
  int fd;
  enum churn_state state;
  double t_start;
};

struct churn_ctx {
  int ep, port, max_inflight, inflight;
  double timeout;
  struct churn_conn *conns;
  struct churn_conn **free; /* the free slots, a stack of max_inflight - inflight */
  long started, skipped;
};

static void
churn_end(struct churn_ctx *x, struct churn_conn *c, const char *result)
{
  printf("{\"t0\": %.6f, \"t1\": %.6f, \"r\": \"%s\"}\n", c->t_start, now_s(), result);
  close(c->fd);
  c->state = CH_FREE;
  x->inflight--;
  x->free[x->max_inflight - x->inflight - 1] = c;
}

static const char *
churn_errname(int err)
{
  switch (err) {
    case ECONNREFUSED:
      return "refused";
    case ECONNRESET:
    case EPIPE:
      return "reset";
    case ETIMEDOUT:
      return "timeout";
    default:
      return "error";
  }
}

static void
churn_start(struct churn_ctx *x)
{
  struct churn_conn *c;

  if (x->inflight == x->max_inflight) {
    x->skipped++;
    return;
  }
  c = x->free[x->max_inflight - x->inflight - 1];
  c->t_start = now_s();
  c->fd = connect_nb(x->port);
  x->started++;
  x->inflight++;
  if (c->fd < 0) {
    printf("{\"t0\": %.6f, \"t1\": %.6f, \"r\": \"%s\"}\n", c->t_start, now_s(),
           churn_errname(errno));
    x->inflight--; /* c is still on top of the free stack */
    return;
  }
  c->state = CH_CONNECTING;
  ep_ctl(x->ep, EPOLL_CTL_ADD, c->fd, EPOLLOUT, c);
}

static void
churn_step(struct churn_ctx *x, struct churn_conn *c)
{
  char b = 'c';
  ssize_t n;
  int err;

  if (c->state == CH_CONNECTING) {
    err = socket_error(c->fd);
    if (err == 0 && write(c->fd, &b, 1) != 1)
      err = errno;
    if (err != 0) {
      churn_end(x, c, churn_errname(err));
      return;
    }
    c->state = CH_WAIT_ECHO;
    ep_ctl(x->ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
    return;
  }
  n = read(c->fd, &b, 1);
  if (n == 1)
    churn_end(x, c, "ok");
  else if (n == 0)
    churn_end(x, c, "eof");
  else if (errno != EAGAIN)
    churn_end(x, c, churn_errname(errno));
}

static void
churn_expire(struct churn_ctx *x, const char *result, double max_age)
{
  double now = now_s();

  for (int i = 0; i < x->max_inflight; i++)
    if (x->conns[i].state != CH_FREE && now - x->conns[i].t_start >= max_age)
      churn_end(x, &x->conns[i], result);
}

static int
churn_timer(long interval_us)
{
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct itimerspec its = {
      .it_interval = {interval_us / 1000000, (interval_us % 1000000) * 1000},
      .it_value = {0, 1000},
  };

  if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
    die("timerfd");
  return fd;
}

/* The timer's expirations since the last read; a backlog (the process was
 * not scheduled) starts a few sessions at once rather than a burst. */
static void
churn_tick(struct churn_ctx *x, int tfd)
{
  uint64_t ticks = 0;

  if (read(tfd, &ticks, sizeof ticks) != sizeof ticks)
    return;
  for (uint64_t i = 0; i < ticks && i < 4; i++)
    churn_start(x);
}

static int
mode_churn(int port, long interval_us, int max_inflight, double timeout)
{
  struct epoll_event evs[MAX_EVENTS];
  struct churn_ctx x = {.port = port, .max_inflight = max_inflight, .timeout = timeout};
  int tfd = churn_timer(interval_us), tag_timer = 0, tag_stdin = 0, done = 0;
  double last_expire = now_s();

  x.ep = epoll_create1(EPOLL_CLOEXEC);
  x.conns = calloc(max_inflight, sizeof *x.conns);
  x.free = calloc(max_inflight, sizeof *x.free);
  for (int i = 0; i < max_inflight; i++)
    x.free[i] = &x.conns[i];
  ep_ctl(x.ep, EPOLL_CTL_ADD, 0, EPOLLIN, &tag_stdin);
  ep_ctl(x.ep, EPOLL_CTL_ADD, tfd, EPOLLIN, &tag_timer);
  while (!done) {
    int n = epoll_wait(x.ep, evs, MAX_EVENTS, 100);

    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == &tag_stdin)
        done = 1;
      else if (evs[i].data.ptr == &tag_timer)
        churn_tick(&x, tfd);
      else
        churn_step(&x, evs[i].data.ptr);
    }
    if (now_s() - last_expire >= 0.05) {
      churn_expire(&x, "timeout", x.timeout);
      last_expire = now_s();
    }
    fflush(stdout);
  }
  churn_expire(&x, "stuck", 0);
  printf("{\"phase\": \"done\", \"started\": %ld, \"skipped\": %ld}\n", x.started, x.skipped);
  fflush(stdout);
  return 0;
}

/* ------------------------------------------------------------------ main */

static void
usage(void)
{
  fprintf(stderr, "usage: loadgen serve PORT\n"
                  "       loadgen bulk PORT SESSIONS BYTES up|down TIMEOUT_S\n"
                  "       loadgen rr PORT COUNT SIZE\n"
                  "       loadgen setup PORT PARALLEL SECONDS\n"
                  "       loadgen idle PORT COUNT CONCURRENCY TIMEOUT_S\n"
                  "       loadgen churn PORT INTERVAL_US MAX_INFLIGHT TIMEOUT_S\n");
  exit(64);
}

int
main(int argc, char **argv)
{
  const char *mode;
  int port;

  if (argc < 3)
    usage();
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  memset(iobuf, 'b', sizeof iobuf);
  mode = argv[1];
  port = atoi(argv[2]);
  if (strcmp(mode, "serve") == 0)
    return mode_serve(port);
  if (strcmp(mode, "bulk") == 0 && argc == 7)
    return mode_bulk(port, atoi(argv[3]), strtoull(argv[4], NULL, 10), strcmp(argv[5], "up") == 0,
                     atof(argv[6]));
  if (strcmp(mode, "rr") == 0 && argc == 5)
    return mode_rr(port, atoi(argv[3]), atoi(argv[4]));
  if (strcmp(mode, "setup") == 0 && argc == 5)
    return mode_setup(port, atoi(argv[3]), atof(argv[4]));
  if (strcmp(mode, "idle") == 0 && argc == 6)
    return mode_idle(port, atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
  if (strcmp(mode, "churn") == 0 && argc == 6)
    return mode_churn(port, atol(argv[3]), atoi(argv[4]), atof(argv[5]));
  usage();
  return 64;
}
