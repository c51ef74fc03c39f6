/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The data-plane thread: listeners, connectors, STATUS= and the stop
 * handshake with the control plane. */
#include "tfst-activation.h"
#include "tfst-engine-private.h"
#include "tfst-error.h"
#include "tfst-ports.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static const TfstHopCallbacks engine_hop_callbacks;
static void engine_accepting_cb(TfstEngine *e, gboolean on);

static void
listener_free(TfstListener *l)
{
  l->io = sd_event_source_disable_unref(l->io);
  l->retry = sd_event_source_disable_unref(l->retry);
  if (l->fd >= 0)
    close(l->fd);
  g_free(l);
}

static void
connector_free(TfstConnector *c)
{
  c->timer = sd_event_source_disable_unref(c->timer);
  g_clear_pointer(&c->tls_resume, g_bytes_unref);
  g_clear_pointer(&c->tls_resume_creds, tfst_tls_creds_unref);
  g_free(c);
}

static const char *
listen_what(TfstListenKind kind)
{
  switch (kind) {
    case TFST_LISTEN_CHILDREN:
      return "children hop listener";
    case TFST_LISTEN_PARENT:
      return "parent hop listener";
    default:
      return "forward listener";
  }
}

static const char *
listen_name(TfstListenKind kind, const TfstForwardConf *fw, char *buf, gsize len)
{
  if (kind == TFST_LISTEN_FORWARD)
    g_snprintf(buf, len, "forward-%s", fw->name);
  else
    g_strlcpy(buf, kind == TFST_LISTEN_CHILDREN ? "children" : "parent", len);
  return buf;
}

/* A handed-over socket for this listener (by name, or at any of its
 * candidate addresses), else bind ourselves. */
static int
listener_open(TfstEngine *e, TfstListener *l, gboolean from_rule, const char *name)
{
  guint tries = from_rule ? MAX(e->config->port_count, 1u) : 1;
  int fd = -EINVAL;

  for (guint k = 0; k < tries && e->activated != NULL; k++) {
    TfstSockAddr a = l->addr;
    if (from_rule)
      tfst_addr_set_port(&a, tfst_config_rule_port(e->config, k));
    if ((fd = tfst_activation_claim(e->activated, name, &a)) >= 0) {
      socklen_t len = sizeof(l->addr);
      (void)getsockname(fd, &l->addr.sa, &len);
      l->activated = TRUE;
      return fd;
    }
  }
  /* The ITM rule: Base + (Skip + k) * 4096 until one binds. */
  for (guint k = 0; k < tries; k++) {
    if (from_rule) {
      guint16 port = tfst_config_rule_port(e->config, k);
      if (port == 0)
        break;
      tfst_addr_set_port(&l->addr, port);
    }
    fd = tfst_socket_listen(&l->addr);
    if (fd >= 0 || fd != -EADDRINUSE)
      break;
  }
  return fd;
}

static gboolean
add_listener(TfstEngine *e, TfstListenKind kind, const TfstSockAddr *addr, gboolean from_rule,
             const TfstForwardConf *fw, GError **error)
{
  TfstListener *l = g_new0(TfstListener, 1);
  char buf[TFST_ADDR_STRLEN];
  char name[TFST_LABEL_MAX + 16];
  int fd;

  l->engine = e;
  l->kind = kind;
  l->forward = fw;
  l->addr = *addr;
  fd = listener_open(e, l, from_rule, listen_name(kind, fw, name, sizeof(name)));
  if (fd < 0) {
    tfst_error_from_errno(error, -fd, "cannot bind %s%s%s on %s (port %u)", listen_what(kind),
                          fw ? " " : "", fw ? fw->name : "", tfst_addr_format(&l->addr, buf),
                          tfst_addr_port(&l->addr));
    tfst_bind_diagnosis_add_to_error(error, &l->addr, -fd);
    g_free(l);
    return FALSE;
  }
  l->fd = fd;
  g_ptr_array_add(e->listeners, l);
  tfst_log(e->log, LOG_NOTICE, "listening on %s (%s%s%s%s)", tfst_addr_format(&l->addr, buf),
           listen_what(kind), fw ? " " : "", fw ? fw->name : "",
           l->activated ? ", socket-activated" : "");
  return TRUE;
}

static void
add_connectors(TfstEngine *e, TfstHopDirection dir, const TfstHopConf *conf)
{
  for (guint i = 0; i < conf->addrs->len; i++) {
    TfstConnector *c = g_new0(TfstConnector, 1);
    c->engine = e;
    c->direction = dir;
    c->conf = conf;
    c->addr = g_array_index(conf->addrs, TfstSockAddr, i);
    c->index = i;
    c->expect_label = g_ptr_array_index(conf->expect_labels, i);
    c->next_sport = conf->sport_lo;
    g_ptr_array_add(e->connectors, c);
  }
}

/* The engine's state without sockets, thread or listeners: for
 * tfst_engine_new(), and for tests and fuzzers that drive the data-plane
 * files directly (tfst_engine_free() releases it). */
TfstEngine *
tfst_engine_new_state(TfstConfig *config, TfstLog *log)
{
  TfstEngine *e = g_new0(TfstEngine, 1);

  e->config = config;
  e->log = log;
  e->hop_cb = &engine_hop_callbacks;
  e->accepting_cb = engine_accepting_cb;
  e->wake_fd = -1;
  e->sess_epfd = -1;
  tfst_pipe_pool_init(&e->pipes);
  e->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)listener_free);
  e->connectors = g_ptr_array_new_with_free_func((GDestroyNotify)connector_free);
  e->parent_hops = g_ptr_array_new();
  e->learned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  tfst_router_init(e);
  e->commands = g_async_queue_new();
  e->peers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  e->pending_by_addr = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  e->rl_protocol = e->rl_hop_closed = e->rl_tls = e->rl_pending = e->rl_accept = e->rl_takeover =
      (TfstRatelimit)TFST_RATELIMIT_INIT(TFST_LOG_PEER_INTERVAL_US, TFST_LOG_PEER_BURST);
  tfst_counters_init(e);
  return e;
}

TfstEngine *
tfst_engine_new(TfstConfig *config, TfstLog *log, GError **error)
{
  g_autoptr(TfstEngine) e = tfst_engine_new_state(config, log);
  const TfstHopConf *hops[] = {&config->children, &config->parent};
  const TfstListenKind kinds[] = {TFST_LISTEN_CHILDREN, TFST_LISTEN_PARENT};
  int r;

  e->activated = tfst_activation_take(error);
  if (e->activated == NULL && error != NULL && *error != NULL)
    return NULL;

  for (guint i = 0; i < G_N_ELEMENTS(hops); i++) {
    if (!hops[i]->configured)
      continue;
    if (hops[i]->listen) {
      if (!add_listener(e, kinds[i], &g_array_index(hops[i]->addrs, TfstSockAddr, 0),
                        hops[i]->port_from_rule, NULL, error))
        return NULL;
    } else {
      add_connectors(e, i == 0 ? TFST_HOP_TO_CHILD : TFST_HOP_TO_PARENT, hops[i]);
    }
  }
  for (guint i = 0; i < config->forwards->len; i++) {
    const TfstForwardConf *fw = g_ptr_array_index(config->forwards, i);
    if (fw->has_listen && !add_listener(e, TFST_LISTEN_FORWARD, &fw->listen, FALSE, fw, error))
      return NULL;
  }
  /* The event inputs bind here, with the other listeners, so that a
   * Listen= that cannot be bound refuses the start; they need the loop
   * their sources will run on. */
  if ((r = sd_event_new(&e->event)) < 0) {
    tfst_error_from_errno(error, -r, "sd_event_new");
    return NULL;
  }
  if (!tfst_events_start(e, error))
    return NULL;
  if (!tfst_activation_check_all_claimed(e->activated, config->path, error))
    return NULL;
  g_clear_pointer(&e->activated, g_ptr_array_unref);
  e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  e->sess_epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->wake_fd < 0 || e->sess_epfd < 0) {
    tfst_error_from_errno(error, errno, "eventfd/epoll");
    return NULL;
  }
  return g_steal_pointer(&e);
}

static int listener_io_cb(sd_event_source *s, int fd, guint32 revents, void *userdata);

static int
listener_retry_cb(sd_event_source *s, guint64 usec, void *userdata)
{
  TfstListener *l = userdata;

  sd_event_source_set_enabled(l->io, SD_EVENT_ON);
  return 0;
}

/* Out of fds: stop accepting for a moment instead of spinning on a
 * listener that stays readable. */
static void
listener_pause(TfstListener *l, int err)
{
  TfstEngine *e = l->engine;

  tfst_log_limited(e->log, &e->rl_accept, LOG_WARNING, &(TfstLogFields){.err = err},
                   "accept on %s: %s; pausing for 100 ms", listen_what(l->kind), g_strerror(err));
  sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
  if (l->retry == NULL)
    sd_event_add_time_relative(e->event, &l->retry, CLOCK_MONOTONIC, 100 * 1000, 0,
                               listener_retry_cb, l);
  else
    sd_event_source_set_time_relative(l->retry, 100 * 1000);
  sd_event_source_set_enabled(l->retry, SD_EVENT_ONESHOT);
}

/* Over MaxPendingHops= the connection is reset at once: it costs an
 * accept and nothing else. */
static void
listener_hop(TfstListener *l, int cfd, const TfstSockAddr *peer)
{
  TfstEngine *e = l->engine;
  gboolean children = l->kind == TFST_LISTEN_CHILDREN;

  if (!tfst_hop_admit(e, children ? &e->config->children : &e->config->parent, peer)) {
    tfst_socket_reset_close(cfd);
    return;
  }
  tfst_hop_new(e, children ? TFST_HOP_TO_CHILD : TFST_HOP_TO_PARENT, cfd, NULL);
}

static int
listener_io_cb(sd_event_source *s, int fd, guint32 revents, void *userdata)
{
  TfstListener *l = userdata;
  TfstEngine *e = l->engine;

  for (int i = 0; i < 64; i++) {
    TfstSockAddr peer = {0};
    socklen_t len = sizeof(peer);
    int cfd = accept4(fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      /* Drained: see tfst_socket_tune_accepted(). */
      if (errno == EAGAIN && l->stale_drains > 0)
        l->stale_drains--;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        listener_pause(l, errno);
      return 0;
    }
    if (l->kind == TFST_LISTEN_FORWARD)
      tfst_session_accept(e, l, cfd, &peer);
    else
      listener_hop(l, cfd, &peer);
  }
  return 0;
}

/* A gateway proxy without its parent hop has nowhere to send a session:
 * rather than reset clients it leaves them in the listen backlog until the
 * hop is back (this is also what lets a socket-activated instance carry the
 * connection that started it). */
static void
engine_accepting_cb(TfstEngine *e, gboolean on)
{
  /* Called after every decision on the active parent: events follow it. */
  tfst_events_parents_changed(e);
  if (e->config->role != TFST_ROLE_GWPROXY)
    return;
  for (guint i = 0; i < e->listeners->len; i++) {
    TfstListener *l = g_ptr_array_index(e->listeners, i);
    if (l->kind == TFST_LISTEN_FORWARD && l->io != NULL)
      sd_event_source_set_enabled(l->io, on ? SD_EVENT_ON : SD_EVENT_OFF);
  }
}

void
tfst_engine_update_status(TfstEngine *e)
{
  g_autofree char *text = tfst_status_text(e);

  if (g_strcmp0(text, e->status_text) == 0)
    return;
  g_free(e->status_text);
  e->status_text = g_steal_pointer(&text);
  (void)sd_notifyf(0, "STATUS=%s", e->status_text);
}

/* ---- the hop callbacks: what a hop's events mean to the rest ---- */

static void
engine_hop_up_cb(TfstHop *hop)
{
  tfst_router_hop_up(hop);
  tfst_counters_hop_up(hop);
  tfst_engine_update_status(hop->engine);
  tfst_notify_handshake(hop->engine, TRUE, hop->peer_label, NULL);
}

static void
engine_hop_down_cb(TfstHop *hop, gboolean was_up)
{
  if (was_up) {
    tfst_events_hop_down(hop);
    tfst_router_hop_down(hop);
  }
  /* At shutdown nobody reads Hops or STATUS= any more. */
  if (hop->engine->stopping)
    return;
  if (was_up)
    tfst_counters_hop_down(hop);
  else if (hop->connector == NULL)
    tfst_counters_hop_refused(hop);
  if (hop->connector != NULL) {
    hop->connector->hop = NULL;
    tfst_connector_schedule(hop->connector);
  }
  /* STATUS= counts hops that are up: thousands of connections that never
   * finished the handshake must not each walk every hop on the way out. */
  if (was_up || hop->connector != NULL)
    tfst_engine_update_status(hop->engine);
}

static const TfstHopCallbacks engine_hop_callbacks = {
    .frame_cb = tfst_session_frame_cb,
    .tell_cb = tfst_router_tell_cb,
    .up_cb = engine_hop_up_cb,
    .lost_cb = tfst_session_lost_cb,
    .down_cb = engine_hop_down_cb,
    .room_cb = tfst_session_room_cb,
    .event_cb = tfst_events_frame_cb,
    .hop_room_cb = tfst_events_hop_room_cb,
    .splice_cb = tfst_session_splice_cb,
    .piece_cb = tfst_session_piece_cb,
};

static int
status_timer_cb(sd_event_source *s, guint64 usec, void *userdata)
{
  TfstEngine *e = userdata;

  tfst_engine_update_status(e);
  tfst_pipe_pool_trim(&e->pipes);
  sd_event_source_set_time_relative(s, G_USEC_PER_SEC);
  sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
  return 0;
}

/* Runs in the data-plane thread: everything the loop owns is released
 * here so no source outlives its thread. */
static void
engine_teardown(TfstEngine *e)
{
  guint8 f[128];
  gssize n = tfst_frame_encode_goaway(f, sizeof(f), 0, "shutting down");

  e->stopping = TRUE;
  while (e->hops.head != NULL) {
    TfstHop *hop = e->hops.head->data;
    /* Best effort: tell the peer this is an orderly stop, not a failure. */
    if (!hop->closing)
      tfst_hop_send_now(hop, f, n);
    hop->connector = NULL;
    tfst_hop_close(hop, 0, "shutting down");
  }
  while (e->sessions.head != NULL)
    tfst_session_abort(e->sessions.head->data, ECONNRESET, NULL);
  g_ptr_array_set_size(e->listeners, 0);
  g_ptr_array_set_size(e->connectors, 0);
  e->wake = sd_event_source_disable_unref(e->wake);
  e->sess_src = sd_event_source_disable_unref(e->sess_src);
  e->status_timer = sd_event_source_disable_unref(e->status_timer);
  tfst_events_free(e);
  tfst_router_free(e);
  tfst_notify_flush(e);
}

static void
post(TfstEngine *e, TfstCommandType type, TfstConfig *config, GTask *task)
{
  TfstCommand *cmd = g_new0(TfstCommand, 1);

  cmd->type = type;
  cmd->config = config;
  cmd->task = task;
  g_async_queue_push(e->commands, cmd);
  (void)eventfd_write(e->wake_fd, 1);
}

/* ---- queries from the control plane ---- */

typedef struct {
  TfstEngineQueryFunc func;
  gpointer data;
  GDestroyNotify destroy;
} TfstQuery;

static void
query_free(TfstQuery *q)
{
  if (q->destroy != NULL && q->data != NULL)
    q->destroy(q->data);
  g_free(q);
}

void
tfst_engine_query_async(TfstEngine *e, TfstEngineQueryFunc func, gpointer data,
                        GDestroyNotify destroy, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new(NULL, NULL, callback, user_data);
  TfstQuery *q = g_new0(TfstQuery, 1);

  q->func = func;
  q->data = data;
  q->destroy = destroy;
  g_task_set_source_tag(task, tfst_engine_query_async);
  g_task_set_task_data(task, q, (GDestroyNotify)query_free);
  post(e, TFST_CMD_QUERY, NULL, task);
}

GVariant *
tfst_engine_query_finish(TfstEngine *e, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* GTask returns on the context the task was made in: the reply reaches the
 * control plane without this thread touching anything of it. */
static void
query_run(TfstEngine *e, GTask *task)
{
  TfstQuery *q = g_task_get_task_data(task);
  GError *error = NULL;
  GVariant *v = q->func(e, q->data, &error);

  if (v == NULL)
    g_task_return_error(task, error);
  else
    g_task_return_pointer(task, g_variant_ref_sink(v), (GDestroyNotify)g_variant_unref);
  g_object_unref(task);
}

void
tfst_engine_set_observer(TfstEngine *e, const TfstEngineObserver *observer, gpointer user_data)
{
  e->observer = observer;
  e->observer_data = user_data;
}

/* Commands from the control plane arrive here, in the data-plane thread:
 * nothing the loop owns is ever touched from another thread. */
static int
wake_cb(sd_event_source *s, int fd, guint32 revents, void *userdata)
{
  TfstEngine *e = userdata;
  TfstCommand *cmd;
  eventfd_t v;

  (void)eventfd_read(fd, &v);
  while ((cmd = g_async_queue_try_pop(e->commands)) != NULL) {
    g_autofree TfstCommand *owned = cmd;
    switch (cmd->type) {
      case TFST_CMD_STOP:
        engine_teardown(e);
        sd_event_exit(e->event, 0);
        return 0;
      case TFST_CMD_RELOAD:
        tfst_reload_apply(e, cmd->config);
        tfst_config_free(cmd->config);
        break;
      case TFST_CMD_QUERY:
        query_run(e, cmd->task);
        break;
      case TFST_CMD_BLOCK:
        /* Test hook: a hung data plane, so the watchdog must fire. */
        tfst_log(e->log, LOG_WARNING, "test hook: blocking the data plane");
        for (;;)
          g_usleep(G_USEC_PER_SEC);
    }
  }
  return 0;
}

void
tfst_engine_reload(TfstEngine *e, TfstConfig *config)
{
  post(e, TFST_CMD_RELOAD, config, NULL);
}

void
tfst_engine_block_for_test(TfstEngine *e)
{
  post(e, TFST_CMD_BLOCK, NULL, NULL);
}

static gpointer
engine_thread(gpointer data)
{
  TfstEngine *e = data;
  int r = sd_event_loop(e->event);

  if (r < 0)
    tfst_log(e->log, LOG_ERR, "data plane loop failed: %s", g_strerror(-r));
  e->exit_status = r < 0 ? 1 : 0;
  return NULL;
}

gboolean
tfst_engine_start(TfstEngine *e, GError **error)
{
  int r = e->event != NULL ? 0 : sd_event_new(&e->event);

  if (r < 0) {
    tfst_error_from_errno(error, -r, "sd_event_new");
    return FALSE;
  }
  /* WATCHDOG=1 comes from this loop, so a hung data plane gets restarted. */
  (void)sd_event_set_watchdog(e->event, TRUE);
  for (guint i = 0; i < e->listeners->len; i++) {
    TfstListener *l = g_ptr_array_index(e->listeners, i);
    sd_event_add_io(e->event, &l->io, l->fd, EPOLLIN, listener_io_cb, l);
  }
  engine_accepting_cb(e, FALSE);
  for (guint i = 0; i < e->connectors->len; i++)
    tfst_connector_schedule(g_ptr_array_index(e->connectors, i));
  sd_event_add_io(e->event, &e->wake, e->wake_fd, EPOLLIN, wake_cb, e);
  sd_event_add_io(e->event, &e->sess_src, e->sess_epfd, EPOLLIN, tfst_session_dispatch_cb, e);
  sd_event_add_time_relative(e->event, &e->status_timer, CLOCK_MONOTONIC, G_USEC_PER_SEC, 0,
                             status_timer_cb, e);
  tfst_engine_update_status(e);
  e->thread = g_thread_try_new("tfst-dataplane", engine_thread, e, error);
  return e->thread != NULL;
}

int
tfst_engine_stop(TfstEngine *e)
{
  if (e->thread == NULL)
    return 0;
  post(e, TFST_CMD_STOP, NULL, NULL);
  g_thread_join(g_steal_pointer(&e->thread));
  return e->exit_status;
}

void
tfst_engine_free(TfstEngine *e)
{
  if (e->thread != NULL)
    (void)tfst_engine_stop(e);
  g_clear_pointer(&e->listeners, g_ptr_array_unref);
  g_clear_pointer(&e->connectors, g_ptr_array_unref);
  tfst_parents_free(e);
  g_clear_pointer(&e->parent_hops, g_ptr_array_unref);
  g_clear_pointer(&e->learned, g_hash_table_unref);
  g_clear_pointer(&e->peers, g_hash_table_unref);
  g_clear_pointer(&e->pending_by_addr, g_hash_table_unref);
  tfst_counters_free(e);
  g_clear_pointer(&e->activated, g_ptr_array_unref);
  tfst_events_free(e); /* never started: the loop never ran its sources */
  if (e->commands != NULL) {
    TfstCommand *cmd;
    while ((cmd = g_async_queue_try_pop(e->commands)) != NULL) {
      g_clear_pointer(&cmd->config, tfst_config_free);
      if (cmd->task != NULL) {
        g_task_return_new_error(cmd->task, TFST_ERROR, TFST_ERROR_FAILED,
                                "the instance is stopping");
        g_object_unref(cmd->task);
      }
      g_free(cmd);
    }
    g_async_queue_unref(e->commands);
  }
  /* Never started: a change deferred before the loop ran goes nowhere. */
  e->changed_timer = sd_event_source_disable_unref(e->changed_timer);
  g_clear_pointer(&e->event, sd_event_unref);
  if (e->wake_fd >= 0)
    close(e->wake_fd);
  if (e->sess_epfd >= 0)
    close(e->sess_epfd);
  tfst_pipe_pool_clear(&e->pipes);
  g_free(e->chain_text);
  g_free(e->status_text);
  g_free(e);
}
