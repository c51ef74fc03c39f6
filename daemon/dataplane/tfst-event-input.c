/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Listen= sockets of an [Events] section: UDP sockets read in batches,
 * TCP listeners and their connections (tfst-event-conn.c). */
#include "tfst-event-input-private.h"

#include "tfst-activation.h"
#include "tfst-bind-diagnosis.h"
#include "tfst-engine-private.h"
#include "tfst-error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A syslog burst is absorbed by the socket buffer while the data plane is
 * busy elsewhere; the kernel caps it at net.core.rmem_max unless raised. */
#define UDP_RCVBUF (4 * 1024 * 1024)
/* recvmmsg() calls per dispatch: with UDP_BATCH datagrams each, a flood on
 * one socket yields to every other source of the loop after this many. */
#define UDP_CALLS_PER_DISPATCH 4
/* Connections accepted per dispatch of a listener. */
#define ACCEPT_BUDGET 64
/* After EMFILE and the like a listener waits this long before accepting
 * again: level-triggered, it would otherwise spin. */
#define ACCEPT_PAUSE_US (100 * 1000)

static void
socket_free(TfstEventSocket *s)
{
  sd_event_source_disable_unref(s->io);
  sd_event_source_disable_unref(s->retry);
  if (s->fd >= 0)
    close(s->fd);
  g_free(s);
}

/* ---- UDP ---------------------------------------------------------------- */

static void
udp_count_kernel_drops(TfstEventInput *in, TfstEventSocket *s, struct msghdr *h)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    guint32 total;

    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
      continue;
    /* The kernel's running count of datagrams this socket dropped. */
    memcpy(&total, CMSG_DATA(c), sizeof(total));
    in->counters.kernel_drops += (guint32)(total - s->kernel_drops_seen);
    s->kernel_drops_seen = total;
  }
}

static void
udp_take(TfstEventInput *in, TfstEventSocket *s, guint i)
{
  struct mmsghdr *m = &in->udp_msgs[i];
  const guint8 *data = in->udp_buf + (gsize)i * TFST_EVENT_INPUT_UDP_BUF;
  char peer[TFST_ADDR_STRLEN];

  udp_count_kernel_drops(in, s, &m->msg_hdr);
  if ((m->msg_hdr.msg_flags & MSG_TRUNC) != 0 || m->msg_len > TFST_EVENT_MAX) {
    tfst_event_conn_malformed(in, TFST_EVENT_MALFORMED_OVERSIZE,
                              tfst_addr_format(&in->udp_from[i], peer), "");
    return;
  }
  if (m->msg_len == 0) {
    tfst_event_conn_malformed(in, TFST_EVENT_MALFORMED_EMPTY,
                              tfst_addr_format(&in->udp_from[i], peer), "");
    return;
  }
  in->counters.datagrams++;
  /* -ENOSPC: the owner dropped and counted it; a datagram cannot wait. */
  (void)in->cb.event_cb(in->user_data, data, m->msg_len, FALSE);
}

static void
udp_prepare(TfstEventInput *in)
{
  for (guint i = 0; i < TFST_EVENT_INPUT_UDP_BATCH; i++) {
    struct msghdr *h = &in->udp_msgs[i].msg_hdr;

    in->udp_iov[i].iov_base = in->udp_buf + (gsize)i * TFST_EVENT_INPUT_UDP_BUF;
    in->udp_iov[i].iov_len = TFST_EVENT_INPUT_UDP_BUF;
    h->msg_name = &in->udp_from[i];
    h->msg_namelen = sizeof(in->udp_from[i]);
    h->msg_iov = &in->udp_iov[i];
    h->msg_iovlen = 1;
    h->msg_control = in->udp_control[i];
    h->msg_controllen = sizeof(in->udp_control[i]);
    h->msg_flags = 0;
  }
}

static int
udp_io_cb(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  TfstEventSocket *s = user_data;
  TfstEventInput *in = s->input;
  gboolean took = FALSE;

  for (guint call = 0; call < UDP_CALLS_PER_DISPATCH; call++) {
    int n;

    udp_prepare(in);
    n = recvmmsg(fd, in->udp_msgs, TFST_EVENT_INPUT_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    for (int i = 0; i < n; i++)
      udp_take(in, s, (guint)i);
    took = TRUE;
    if (n < (int)TFST_EVENT_INPUT_UDP_BATCH)
      break;
  }
  if (took && in->cb.batch_cb != NULL)
    in->cb.batch_cb(in->user_data);
  return 0;
}

static int
set_int(int fd, int level, int opt, int v)
{
  return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* As tfst_socket_listen(): an IPv6 socket takes IPv6 only, so that [::] and
 * 0.0.0.0 can both be listed. */
static int
udp_open(const TfstSockAddr *addr)
{
  int fd = socket(addr->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  int r;

  if (fd < 0)
    return -errno;
  if ((addr->sa.sa_family == AF_INET6 &&
       set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, !IN6_IS_ADDR_V4MAPPED(&addr->in6.sin6_addr)) < 0) ||
      bind(fd, &addr->sa, tfst_addr_len(addr)) < 0) {
    r = -errno;
    close(fd);
    return r;
  }
  return fd;
}

/* Best effort, also on sockets systemd made: without them events still
 * flow, only bursts and kernel drops are handled less well. */
static void
udp_tune(int fd)
{
  (void)set_int(fd, SOL_SOCKET, SO_RCVBUF, UDP_RCVBUF);
  (void)set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1);
}

/* ---- TCP listeners ------------------------------------------------------ */

static int
accept_retry_cb(sd_event_source *source, uint64_t usec, void *user_data)
{
  TfstEventSocket *s = user_data;

  sd_event_source_set_enabled(s->io, SD_EVENT_ON);
  return 0;
}

/* Out of file descriptors or memory: stop accepting for a moment rather
 * than spin on a listener that stays readable.  The timer exists since the
 * listener was set up: making one now could need the very file descriptor
 * (sd-event's timerfd) that is missing. */
static void
accept_pause(TfstEventSocket *s, int err)
{
  TfstEventInput *in = s->input;

  tfst_log_limited(in->log, &in->rl_refused, LOG_WARNING, NULL,
                   "events %s: cannot accept a connection: %s", in->name, g_strerror(err));
  sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
  (void)sd_event_source_set_time_relative(s->retry, ACCEPT_PAUSE_US);
  (void)sd_event_source_set_enabled(s->retry, SD_EVENT_ONESHOT);
}

static int
accept_cb(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  TfstEventSocket *s = user_data;

  for (guint i = 0; i < ACCEPT_BUDGET; i++) {
    TfstSockAddr peer = {0};
    socklen_t len = sizeof(peer);
    int cfd = accept4(fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (cfd >= 0) {
      tfst_event_conn_new(s->input, cfd, &peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
      continue;
    if (errno != EAGAIN)
      accept_pause(s, errno);
    break;
  }
  return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int
accept_add_retry(TfstEventSocket *s)
{
  int r = sd_event_add_time_relative(s->input->event, &s->retry, CLOCK_MONOTONIC, ACCEPT_PAUSE_US,
                                     0, accept_retry_cb, s);

  if (r >= 0)
    r = sd_event_source_set_enabled(s->retry, SD_EVENT_OFF);
  return r;
}

static int
socket_open(TfstEventInput *in, const TfstEventAddr *a, gboolean *out_activated)
{
  gboolean udp = a->transport == TFST_EVENT_UDP;
  int type = udp ? SOCK_DGRAM : SOCK_STREAM;
  g_autofree char *name = g_strdup_printf("events-%s", in->name);
  int fd = tfst_activation_claim_type(in->activated, name, &a->addr, type);

  *out_activated = fd >= 0;
  if (fd < 0)
    fd = udp ? udp_open(&a->addr) : tfst_socket_listen(&a->addr);
  if (fd >= 0 && udp)
    udp_tune(fd);
  return fd;
}

static gboolean
socket_add(TfstEventInput *in, const TfstEventAddr *a, GError **error)
{
  gboolean udp = a->transport == TFST_EVENT_UDP;
  TfstEventSocket *s = g_new0(TfstEventSocket, 1);
  TfstEventAddr bound = *a;
  socklen_t len = sizeof(bound.addr);
  char buf[TFST_ADDR_STRLEN];
  gboolean activated = FALSE;
  int r;

  s->input = in;
  s->fd = socket_open(in, a, &activated);
  if (s->fd < 0) {
    tfst_error_from_errno(error, -s->fd, "cannot bind [Events %s] Listen=%s:%s", in->name,
                          udp ? "udp" : "tcp", tfst_addr_format(&a->addr, buf));
    /* Who holds a port is looked up among TCP sockets only; a privileged
     * port or a foreign address reads the same for UDP. */
    if (!udp || -s->fd != EADDRINUSE)
      tfst_bind_diagnosis_add_to_error(error, &a->addr, -s->fd);
    g_free(s);
    return FALSE;
  }
  g_ptr_array_add(in->sockets, s);
  r = sd_event_add_io(in->event, &s->io, s->fd, EPOLLIN, udp ? udp_io_cb : accept_cb, s);
  if (r >= 0 && !udp)
    r = accept_add_retry(s);
  if (r < 0) {
    tfst_error_from_errno(error, -r, "cannot watch [Events %s] Listen=%s:%s", in->name,
                          udp ? "udp" : "tcp", tfst_addr_format(&a->addr, buf));
    return FALSE;
  }
  (void)getsockname(s->fd, &bound.addr.sa, &len);
  g_array_append_val(in->addrs, bound);
  tfst_log(in->log, LOG_NOTICE, "listening on %s:%s (events %s%s)", udp ? "udp" : "tcp",
           tfst_addr_format(&bound.addr, buf), in->name, activated ? ", socket-activated" : "");
  return TRUE;
}

TfstEventInput *
tfst_event_input_new(sd_event *event, TfstLog *log, const TfstEventsConf *conf,
                     GPtrArray *activated, const TfstEventInputCallbacks *cb, gpointer user_data,
                     GError **error)
{
  TfstEventInput *in = g_new0(TfstEventInput, 1);
  const TfstRatelimit rl = TFST_RATELIMIT_INIT(TFST_LOG_PEER_INTERVAL_US, TFST_LOG_PEER_BURST);

  in->event = sd_event_ref(event);
  in->log = log;
  in->name = g_strdup(conf->name);
  in->cb = *cb;
  in->user_data = user_data;
  in->activated = activated;
  in->rl_malformed = in->rl_refused = rl;
  in->sockets = g_ptr_array_new_with_free_func((GDestroyNotify)socket_free);
  in->addrs = g_array_new(FALSE, TRUE, sizeof(TfstEventAddr));
  g_queue_init(&in->conns);
  for (guint i = 0; i < conf->listen->len; i++) {
    const TfstEventAddr *a = &g_array_index(conf->listen, TfstEventAddr, i);

    if (a->transport == TFST_EVENT_UDP && in->udp_buf == NULL)
      in->udp_buf = g_malloc((gsize)TFST_EVENT_INPUT_UDP_BATCH * TFST_EVENT_INPUT_UDP_BUF);
    if (!socket_add(in, a, error)) {
      tfst_event_input_free(in);
      return NULL;
    }
  }
  /* Only while setting up: the fds belong to the engine. */
  in->activated = NULL;
  return in;
}

void
tfst_event_input_free(TfstEventInput *in)
{
  if (in == NULL)
    return;
  while (!g_queue_is_empty(&in->conns))
    tfst_event_conn_free(g_queue_peek_head(&in->conns));
  sd_event_source_disable_unref(in->resume);
  g_ptr_array_unref(in->sockets);
  g_array_unref(in->addrs);
  g_free(in->udp_buf);
  g_free(in->name);
  sd_event_unref(in->event);
  g_free(in);
}

void
tfst_event_input_pause(TfstEventInput *in)
{
  in->paused = TRUE;
  tfst_event_conn_pause_all(in);
}

static int
resume_cb(sd_event_source *source, void *user_data)
{
  TfstEventInput *in = user_data;

  in->resume = sd_event_source_disable_unref(in->resume);
  tfst_event_conn_resume_all(in);
  return 0;
}

/* From the loop: held events go to the owner's callback, which must not
 * run inside the owner's own call to resume. */
void
tfst_event_input_resume(TfstEventInput *in)
{
  in->paused = FALSE;
  if (in->resume == NULL && sd_event_add_defer(in->event, &in->resume, resume_cb, in) < 0) {
    in->resume = NULL;
    tfst_event_conn_resume_all(in);
  }
}

const GArray *
tfst_event_input_addrs(const TfstEventInput *in)
{
  return in->addrs;
}

const TfstEventInputCounters *
tfst_event_input_counters(const TfstEventInput *in)
{
  return &in->counters;
}

void
tfst_event_input_clear_counters(TfstEventInput *in)
{
  guint open = in->counters.open_connections;

  memset(&in->counters, 0, sizeof(in->counters));
  in->counters.open_connections = open;
}
