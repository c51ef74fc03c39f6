/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Keepalive on the control plane (see
 * tfst-keepalive-interface.h): settings live on the data plane, the audit
 * joins what the data plane knows of each socket with inet_diag. */
#include "tfst-keepalive-interface.h"
#include "tfst-addr.h"
#include "tfst-dbus-generated.h"
#include "tfst-error.h"
#include "tfst-invocation.h"
#include "tfst-keepalive.h"
#include "tfst-tcp-sockets.h"
#include "tfst-tcp-state.h"

#include <netinet/tcp.h>

#define ALL_TCP_STATES ((1u << (TCP_CLOSING + 1)) - 1)

typedef struct {
  TfstEngine *engine;
  TfstRole role;
  char *instance;
} TfstKeepaliveState;

static void
state_free(gpointer data)
{
  TfstKeepaliveState *ks = data;

  g_free(ks->instance);
  g_free(ks);
}

typedef struct {
  TfstKeepaliveState *ks;
  GDBusMethodInvocation *invocation;
  TfstKeepaliveUpdate *update;
} Call;

static Call *
call_new(TfstKeepaliveState *ks, GDBusMethodInvocation *invocation, TfstKeepaliveUpdate *update)
{
  Call *call = g_new0(Call, 1);

  call->ks = ks;
  /* The reference the dispatch handed over; answering consumes it. */
  call->invocation = invocation;
  call->update = update;
  return call;
}

static void
call_free(Call *call)
{
  g_clear_object(&call->invocation);
  tfst_keepalive_update_free(call->update);
  g_free(call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Call, call_free)

/* The scope argument, or an answered invocation and NULL. */
static TfstKeepaliveUpdate *
update_from_call(GDBusMethodInvocation *invocation)
{
  g_autoptr(TfstKeepaliveUpdate) u = g_new0(TfstKeepaliveUpdate, 1);
  g_autoptr(GError) error = NULL;
  GVariant *params = g_dbus_method_invocation_get_parameters(invocation);
  const char *scope = NULL;

  g_variant_get_child(params, 0, "&s", &scope);
  if (!tfst_keepalive_parse_scope(scope, &u->hops, &error)) {
    g_dbus_method_invocation_return_gerror(invocation, error);
    return NULL;
  }
  if (g_variant_n_children(params) == 3) {
    g_variant_get(params, "(&s@a{sv}u)", NULL, &u->changes, &u->flags);
    u->summary = tfst_keepalive_describe(u->changes);
  }
  return g_steal_pointer(&u);
}

static void
get_settings_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstKeepaliveState *ks = data;
  TfstKeepaliveUpdate *u = update_from_call(invocation);

  if (u == NULL)
    return;
  tfst_engine_query_async(ks->engine, tfst_sockets_get_keepalive, u,
                          (GDestroyNotify)tfst_keepalive_update_free,
                          tfst_invocation_return_task_cb, invocation);
}

static void
set_done_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(Call) call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = tfst_engine_query_finish(call->ks->engine, res, &error);
  g_autoptr(GVariant) warnings = NULL;
  g_autofree char *path = NULL;

  if (reply == NULL) {
    g_dbus_method_invocation_return_gerror(g_steal_pointer(&call->invocation), error);
    return;
  }
  g_variant_get(reply, "(a{sv}@as)", NULL, &warnings);
  if (call->update->flags & TFST_KEEPALIVE_PERSIST) {
    path = tfst_keepalive_persist(call->ks->role, call->ks->instance, call->update->changes,
                                  call->update->hops, &error);
    if (path == NULL) {
      g_dbus_method_invocation_return_error(
          g_steal_pointer(&call->invocation), TFST_ERROR, TFST_ERROR_FAILED,
          "the settings apply now but were not persisted: %s", error->message);
      return;
    }
  }
  g_dbus_method_invocation_return_value(g_steal_pointer(&call->invocation),
                                        g_variant_new("(@as)", warnings));
}

static void
set_settings_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstKeepaliveState *ks = data;
  TfstKeepaliveUpdate *u = update_from_call(invocation);

  if (u == NULL)
    return;
  tfst_engine_query_async(ks->engine, tfst_sockets_set_keepalive, u, NULL, set_done_cb,
                          call_new(ks, invocation, u));
}

/* ---- Audit ---- */

static const char *
ss_state(guint8 state)
{
  return state == TCP_ESTABLISHED ? "ESTAB" : tfst_tcp_state_to_string(state);
}

static void
format_addr(const TfstSockAddr *a, char buf[TFST_ADDR_STRLEN])
{
  if (a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6)
    tfst_addr_format(a, buf);
  else
    buf[0] = '\0';
}

/* Joins the data plane's view (by inode) with the kernel's. */
static GVariant *
audit_join(GVariant *described, GPtrArray *kernel)
{
  g_autoptr(GHashTable) by_inode = g_hash_table_new(g_direct_hash, g_direct_equal);
  GVariantBuilder b;
  GVariantIter iter;
  guint64 inode, session, acked, received;
  const char *kind, *peer;
  guint32 state, probes, retrans, rtt, rttvar;

  for (guint i = 0; i < kernel->len; i++) {
    TfstPortOwner *o = g_ptr_array_index(kernel, i);
    g_hash_table_insert(by_inode, GUINT_TO_POINTER(o->inode), o);
  }
  g_variant_builder_init(&b, G_VARIANT_TYPE("a(sstsssbuuuuutt)"));
  g_variant_iter_init(&iter, described);
  while (g_variant_iter_next(&iter, "(t&s&stuuuuutt)", &inode, &kind, &peer, &session, &state,
                             &probes, &retrans, &rtt, &rttvar, &acked, &received)) {
    const TfstPortOwner *o = g_hash_table_lookup(by_inode, GUINT_TO_POINTER((guint)inode));
    char local[TFST_ADDR_STRLEN], remote[TFST_ADDR_STRLEN];
    gboolean keepalive;
    guint32 timer_ms;

    if (o == NULL)
      continue; /* closed between the two looks */
    keepalive = o->timer == 2;
    /* 1: retransmit (or SYN, probe0), 2: keepalive; TIME-WAIT has no owner. */
    timer_ms = o->timer == 1 || o->timer == 2 || o->timer == 4 ? o->expires_ms : 0;
    format_addr(&o->local, local);
    format_addr(&o->remote, remote);
    if (o->tcp_state == TCP_LISTEN)
      remote[0] = '\0';
    g_variant_builder_add(&b, "(sstsssbuuuuutt)", kind, peer, session, local, remote,
                          ss_state(o->tcp_state), keepalive, timer_ms, probes, retrans, rtt, rttvar,
                          acked, received);
  }
  return g_variant_new("(a(sstsssbuuuuutt))", &b);
}

static void
audit_thread_cb(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GVariant *described = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) list = g_variant_get_child_value(described, 0);
  g_autoptr(GPtrArray) kernel = tfst_tcp_sockets_dump(NULL, 0, ALL_TCP_STATES, &error);

  if (kernel == NULL)
    g_task_return_error(task, g_steal_pointer(&error));
  else
    g_task_return_pointer(task, g_variant_ref_sink(audit_join(list, kernel)),
                          (GDestroyNotify)g_variant_unref);
}

/* The inet_diag dump blocks for as long as the kernel takes to walk every
 * TCP socket of the host: a worker thread does it. */
static void
described_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(Call) call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) described = tfst_engine_query_finish(call->ks->engine, res, &error);
  g_autoptr(GTask) task = NULL;

  if (described == NULL) {
    g_dbus_method_invocation_return_gerror(g_steal_pointer(&call->invocation), error);
    return;
  }
  task = g_task_new(NULL, NULL, tfst_invocation_return_task_cb, g_steal_pointer(&call->invocation));
  g_task_set_task_data(task, g_steal_pointer(&described), (GDestroyNotify)g_variant_unref);
  g_task_run_in_thread(task, audit_thread_cb);
}

static void
audit_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstKeepaliveState *ks = data;

  tfst_engine_query_async(ks->engine, tfst_sockets_describe, NULL, NULL, described_cb,
                          call_new(ks, invocation, NULL));
}

static const TfstAuthzMethod keepalive_methods[] = {
    {"GetSettings", TFST_ACTION_OBSERVE, get_settings_cb},
    {"SetSettings", TFST_ACTION_TUNE, set_settings_cb},
    {"Audit", TFST_ACTION_OBSERVE, audit_cb},
};

GDBusInterfaceSkeleton *
tfst_keepalive_interface_new(TfstAuthz *authz, TfstEngine *engine, const TfstConfig *config)
{
  g_autoptr(TfstDbusTfst1Keepalive) skel = tfst_dbus_tfst1_keepalive_skeleton_new();
  TfstKeepaliveState *ks = g_new0(TfstKeepaliveState, 1);

  ks->engine = engine;
  ks->role = config->role;
  ks->instance = g_strdup(config->instance);
  g_object_set_data_full(G_OBJECT(skel), "tfst-keepalive-interface", ks, state_free);
  tfst_authz_dispatch(authz, G_DBUS_INTERFACE_SKELETON(skel), keepalive_methods,
                      G_N_ELEMENTS(keepalive_methods), ks);
  return G_DBUS_INTERFACE_SKELETON(g_steal_pointer(&skel));
}
