/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-ports.h"
#include "tfst-addr.h"
#include "tfst-nl.h"
#include "tfst-error.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <netlink/idiag/idiagnl.h>
#include <netlink/idiag/msg.h>
#include <netlink/addr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#define SYSCTL_DIR              "/proc/sys/net/ipv4"
#define DEFAULT_UNPRIVILEGED    1024 /* before Linux 4.11 it was fixed */
#define DIAGNOSIS_MAX_HOLDERS   4
#define PROC_SOCKET_LINK_PREFIX "socket:["

GArray *
tfst_ports_candidates(guint base, guint skip, guint count)
{
  GArray *ports = g_array_new(FALSE, FALSE, sizeof(guint16));

  for (guint64 k = 0; count == 0 || k < count; k++) {
    guint64 port = base + ((guint64)skip + k) * TFST_PORT_STRIDE;
    guint16 p;

    if (port > G_MAXUINT16)
      break;
    p = (guint16)port;
    if (p != 0)
      g_array_append_val(ports, p);
  }
  return ports;
}

/* ---- sysctl parsing */

static gboolean
parse_port(const char *text, guint16 *out, GError **error)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT16, &v, error)) {
    g_prefix_error(error, "port \"%s\": ", text);
    return FALSE;
  }
  *out = (guint16)v;
  return TRUE;
}

gboolean
tfst_port_range_parse(const char *text, TfstPortRange *out_range, GError **error)
{
  g_auto(GStrv) fields = g_strsplit_set(text, " \t\n", -1);
  const char *num[2];
  guint n = 0;
  TfstPortRange r;

  for (guint i = 0; fields[i] != NULL; i++) {
    if (*fields[i] == '\0')
      continue;
    if (n == 2) {
      n = 3;
      break;
    }
    num[n++] = fields[i];
  }
  if (n != 2) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "port range \"%s\": expected two numbers", text);
    return FALSE;
  }
  if (!parse_port(num[0], &r.lo, error) || !parse_port(num[1], &r.hi, error))
    return FALSE;
  if (r.lo > r.hi) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "port range \"%s\": low end above high end", text);
    return FALSE;
  }
  *out_range = r;
  return TRUE;
}

static gint
range_cmp(gconstpointer a, gconstpointer b)
{
  const TfstPortRange *x = a;
  const TfstPortRange *y = b;

  return (gint)x->lo - (gint)y->lo;
}

/* Sorts and merges overlapping or adjacent ranges in place. */
static void
port_list_normalize(GArray *list)
{
  guint out = 0;

  if (list->len == 0)
    return;
  g_array_sort(list, range_cmp);
  for (guint i = 1; i < list->len; i++) {
    TfstPortRange *cur = &g_array_index(list, TfstPortRange, out);
    const TfstPortRange *next = &g_array_index(list, TfstPortRange, i);

    if ((guint)next->lo <= (guint)cur->hi + 1) {
      cur->hi = MAX(cur->hi, next->hi);
    } else {
      out++;
      g_array_index(list, TfstPortRange, out) = *next;
    }
  }
  g_array_set_size(list, out + 1);
}

GArray *
tfst_port_list_parse(const char *text, GError **error)
{
  g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(TfstPortRange));
  g_autofree char *copy = g_strstrip(g_strdup(text));
  g_auto(GStrv) items = NULL;

  if (*copy == '\0')
    return g_steal_pointer(&list);
  items = g_strsplit(copy, ",", -1);
  for (guint i = 0; items[i] != NULL; i++) {
    g_autofree char *item = g_strstrip(g_strdup(items[i]));
    char *dash = strchr(item, '-');
    TfstPortRange r;

    if (dash != NULL)
      *dash = '\0';
    if (!parse_port(item, &r.lo, error) ||
        !parse_port(dash != NULL ? dash + 1 : item, &r.hi, error)) {
      g_prefix_error(error, "port list \"%s\": ", text);
      return NULL;
    }
    if (r.lo > r.hi) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                  "port list \"%s\": range %u-%u is reversed", text, r.lo, r.hi);
      return NULL;
    }
    g_array_append_val(list, r);
  }
  port_list_normalize(list);
  return g_steal_pointer(&list);
}

gboolean
tfst_port_list_contains(const GArray *list, guint16 port)
{
  for (guint i = 0; list != NULL && i < list->len; i++) {
    const TfstPortRange *r = &g_array_index(list, TfstPortRange, i);
    if (port >= r->lo && port <= r->hi)
      return TRUE;
  }
  return FALSE;
}

void
tfst_port_list_add(GArray *list, guint16 port)
{
  TfstPortRange r = {port, port};

  g_array_append_val(list, r);
  port_list_normalize(list);
}

char *
tfst_port_list_format(const GArray *list)
{
  GString *s = g_string_new(NULL);

  for (guint i = 0; i < list->len; i++) {
    const TfstPortRange *r = &g_array_index(list, TfstPortRange, i);

    if (i > 0)
      g_string_append_c(s, ',');
    if (r->lo == r->hi)
      g_string_append_printf(s, "%u", r->lo);
    else
      g_string_append_printf(s, "%u-%u", r->lo, r->hi);
  }
  return g_string_free(s, FALSE);
}

void
tfst_port_sysctl_free(TfstPortSysctl *sysctl)
{
  if (sysctl == NULL)
    return;
  g_clear_pointer(&sysctl->reserved, g_array_unref);
  g_free(sysctl);
}

/* Contents of dir/name; NULL without error when the file does not exist
 * (older kernels lack some of the settings). */
static char *
read_setting(const char *dir, const char *name, GError **error)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) local = NULL;
  char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, &local)) {
    if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  return text;
}

TfstPortSysctl *
tfst_port_sysctl_load(const char *dir, GError **error)
{
  g_autoptr(TfstPortSysctl) s = g_new0(TfstPortSysctl, 1);
  g_autofree char *range = NULL;
  g_autofree char *reserved = NULL;
  g_autofree char *unpriv = NULL;
  g_autoptr(GError) local = NULL;

  if (dir == NULL)
    dir = SYSCTL_DIR;
  range = read_setting(dir, "ip_local_port_range", &local);
  if (range == NULL && local == NULL)
    g_set_error(&local, TFST_ERROR, TFST_ERROR_NOT_FOUND, "%s/ip_local_port_range is missing", dir);
  if (local != NULL || !tfst_port_range_parse(range, &s->ephemeral, &local)) {
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  reserved = read_setting(dir, "ip_local_reserved_ports", &local);
  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  s->reserved = tfst_port_list_parse(reserved != NULL ? reserved : "", error);
  if (s->reserved == NULL)
    return NULL;
  unpriv = read_setting(dir, "ip_unprivileged_port_start", &local);
  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  s->unprivileged_start = DEFAULT_UNPRIVILEGED;
  if (unpriv != NULL) {
    guint64 v;
    g_strstrip(unpriv);
    if (!g_ascii_string_to_unsigned(unpriv, 10, 0, G_MAXUINT16 + 1, &v, error)) {
      g_prefix_error(error, "%s/ip_unprivileged_port_start: ", dir);
      return NULL;
    }
    s->unprivileged_start = (guint)v;
  }
  return g_steal_pointer(&s);
}

gboolean
tfst_port_sysctl_is_ephemeral(const TfstPortSysctl *sysctl, guint16 port)
{
  return port >= sysctl->ephemeral.lo && port <= sysctl->ephemeral.hi;
}

gboolean
tfst_port_sysctl_is_reserved(const TfstPortSysctl *sysctl, guint16 port)
{
  return tfst_port_list_contains(sysctl->reserved, port);
}

gboolean
tfst_port_is_ephemeral(guint16 port)
{
  g_autoptr(TfstPortSysctl) s = tfst_port_sysctl_load(NULL, NULL);

  return s != NULL && tfst_port_sysctl_is_ephemeral(s, port);
}

gboolean
tfst_port_is_reserved(guint16 port)
{
  g_autoptr(TfstPortSysctl) s = tfst_port_sysctl_load(NULL, NULL);

  return s != NULL && tfst_port_sysctl_is_reserved(s, port);
}

/* ---- who holds a port */

void
tfst_port_owner_free(TfstPortOwner *owner)
{
  if (owner == NULL)
    return;
  g_free(owner->comm);
  g_free(owner->unit);
  g_free(owner);
}

const char *
tfst_tcp_state_to_string(guint8 state)
{
  static const char *const names[] = {
      [TCP_ESTABLISHED] = "ESTABLISHED",
      [TCP_SYN_SENT] = "SYN-SENT",
      [TCP_SYN_RECV] = "SYN-RECV",
      [TCP_FIN_WAIT1] = "FIN-WAIT-1",
      [TCP_FIN_WAIT2] = "FIN-WAIT-2",
      [TCP_TIME_WAIT] = "TIME-WAIT",
      [TCP_CLOSE] = "CLOSE",
      [TCP_CLOSE_WAIT] = "CLOSE-WAIT",
      [TCP_LAST_ACK] = "LAST-ACK",
      [TCP_LISTEN] = "LISTEN",
      [TCP_CLOSING] = "CLOSING",
  };

  if (state < G_N_ELEMENTS(names) && names[state] != NULL)
    return names[state];
  return "UNKNOWN";
}

/* States in which a socket keeps its local port bound for bind() purposes
 * and a process holds it.  TIME-WAIT and request sockets have no process,
 * and SO_REUSEADDR (which tfstd sets) binds over them anyway. */
static guint32
states_mask(TfstPortOwnersFlags flags)
{
  guint32 mask = 1u << TCP_LISTEN;

  if (flags & TFST_PORT_OWNERS_CONNECTIONS)
    mask |= (1u << TCP_ESTABLISHED) | (1u << TCP_SYN_SENT) | (1u << TCP_FIN_WAIT1) |
            (1u << TCP_FIN_WAIT2) | (1u << TCP_CLOSE_WAIT) | (1u << TCP_LAST_ACK) |
            (1u << TCP_CLOSING);
  return mask;
}

typedef struct {
  const guint16 *ports;
  guint n_ports;
  guint8 family;      /* the family being dumped */
  GPtrArray *sockets; /* TfstPortOwner, no process yet */
  int nlerr;          /* first parse error, 0 if none */
} DumpCtx;

static gboolean
port_wanted(const DumpCtx *ctx, guint16 port)
{
  if (ctx->ports == NULL)
    return TRUE;
  for (guint i = 0; i < ctx->n_ports; i++)
    if (ctx->ports[i] == port)
      return TRUE;
  return FALSE;
}

/* inet_diag carries addresses in 16-byte fields whatever the family. */
static void
addr_from_nl(struct nl_addr *a, guint8 family, guint16 port_be, TfstSockAddr *out)
{
  const void *bin = a != NULL ? nl_addr_get_binary_addr(a) : NULL;
  guint len = a != NULL ? nl_addr_get_len(a) : 0;

  memset(out, 0, sizeof(*out));
  if (family == AF_INET && len >= sizeof(struct in_addr)) {
    out->in.sin_family = AF_INET;
    memcpy(&out->in.sin_addr, bin, sizeof(struct in_addr));
    out->in.sin_port = port_be;
  } else if (family == AF_INET6 && len >= sizeof(struct in6_addr)) {
    out->in6.sin6_family = AF_INET6;
    memcpy(&out->in6.sin6_addr, bin, sizeof(struct in6_addr));
    out->in6.sin6_port = port_be;
  }
}

static int
dump_cb(struct nl_msg *msg, void *arg)
{
  DumpCtx *ctx = arg;
  g_autoptr(TfstIdiagMsg) m = NULL;
  TfstPortOwner *o;
  guint16 sport;
  int r;

  r = idiagnl_msg_parse(nlmsg_hdr(msg), &m);
  if (r < 0) {
    ctx->nlerr = r;
    return NL_STOP;
  }
  sport = ntohs(idiagnl_msg_get_sport(m));
  if (idiagnl_msg_get_family(m) != ctx->family || !port_wanted(ctx, sport))
    return NL_OK;
  o = g_new0(TfstPortOwner, 1);
  o->port = sport;
  o->tcp_state = idiagnl_msg_get_state(m);
  o->uid = idiagnl_msg_get_uid(m);
  o->inode = idiagnl_msg_get_inode(m);
  o->timer = idiagnl_msg_get_timer(m);
  o->expires_ms = idiagnl_msg_get_expires(m);
  addr_from_nl(idiagnl_msg_get_src(m), idiagnl_msg_get_family(m), idiagnl_msg_get_sport(m),
               &o->local);
  addr_from_nl(idiagnl_msg_get_dst(m), idiagnl_msg_get_family(m), idiagnl_msg_get_dport(m),
               &o->remote);
  g_ptr_array_add(ctx->sockets, o);
  return NL_OK;
}

/* idiagnl_send_simple() speaks the old TCPDIAG_GETSOCK request, for which
 * the kernel ignores the family and dumps IPv4 and IPv6 alike; filtering on
 * the family per request keeps each socket once whichever way a kernel
 * answers. */
static gboolean
dump_family(struct nl_sock *sk, guint8 family, guint32 states, DumpCtx *ctx, GError **error)
{
  int r;

  ctx->family = family;
  r = idiagnl_send_simple(sk, NLM_F_DUMP, family, (guint16)states, 0);
  if (r < 0) {
    tfst_nl_error(error, r, "inet_diag dump request");
    return FALSE;
  }
  r = nl_recvmsgs_default(sk);
  if (r < 0 || ctx->nlerr < 0) {
    tfst_nl_error(error, r < 0 ? r : ctx->nlerr, "inet_diag dump");
    return FALSE;
  }
  return TRUE;
}

/* Drops the connections of ports that have a listener. */
static void
drop_accepted(GPtrArray *sockets)
{
  g_autoptr(GHashTable) listening = g_hash_table_new(g_direct_hash, g_direct_equal);

  for (guint i = 0; i < sockets->len; i++) {
    const TfstPortOwner *s = g_ptr_array_index(sockets, i);
    if (s->tcp_state == TCP_LISTEN)
      g_hash_table_add(listening, GUINT_TO_POINTER(s->port));
  }
  for (guint i = sockets->len; i > 0; i--) {
    const TfstPortOwner *s = g_ptr_array_index(sockets, i - 1);
    if (s->tcp_state != TCP_LISTEN && g_hash_table_contains(listening, GUINT_TO_POINTER(s->port)))
      g_ptr_array_remove_index_fast(sockets, i - 1);
  }
}

GPtrArray *
tfst_tcp_sockets_dump(const guint16 *ports, guint n_ports, guint32 states, GError **error)
{
  g_autoptr(TfstNlSock) sk = nl_socket_alloc();
  g_autoptr(GPtrArray) sockets =
      g_ptr_array_new_with_free_func((GDestroyNotify)tfst_port_owner_free);
  DumpCtx ctx = {.ports = ports, .n_ports = n_ports, .sockets = sockets};
  const guint8 families[] = {AF_INET, AF_INET6};
  int r;

  if (sk == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot allocate a netlink socket");
    return NULL;
  }
  r = idiagnl_connect(sk);
  if (r < 0) {
    tfst_nl_error(error, r, "inet_diag netlink socket");
    return NULL;
  }
  nl_socket_enable_msg_peek(sk);
  nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, dump_cb, &ctx);
  for (guint i = 0; i < G_N_ELEMENTS(families); i++)
    if (!dump_family(sk, families[i], states, &ctx, error))
      return NULL;
  return g_steal_pointer(&sockets);
}

/* Control characters in a process name must not reach a log line or a
 * terminal as such. */
static char *
printable(const char *text)
{
  char *s = g_utf8_make_valid(text, -1);

  for (char *p = s; *p != '\0'; p++)
    if ((guchar)*p < 0x20 || *p == 0x7f)
      *p = '?';
  return s;
}

static char *
read_comm(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/comm", (int)pid);
  g_autofree char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return g_strdup("?");
  g_strchomp(text);
  return printable(text);
}

static char *
read_unit(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/cgroup", (int)pid);
  g_autofree char *text = NULL;
  g_autofree char *unit = NULL;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return NULL;
  unit = tfst_unit_from_cgroup(text);
  return unit != NULL ? printable(unit) : NULL;
}

static gboolean
is_unit_name(const char *component)
{
  return g_str_has_suffix(component, ".service") || g_str_has_suffix(component, ".scope") ||
         g_str_has_suffix(component, ".socket");
}

static char *
unit_from_cgroup_path(const char *path)
{
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  const char *unit = NULL;

  for (guint i = 0; parts[i] != NULL; i++)
    if (is_unit_name(parts[i]))
      unit = parts[i];
  return g_strdup(unit);
}

char *
tfst_unit_from_cgroup(const char *text)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_autofree char *unified = NULL;
  g_autofree char *named = NULL;

  /* hierarchy-ID:controller-list:cgroup-path; the path may contain ':'. */
  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) f = g_strsplit(lines[i], ":", 3);

    if (g_strv_length(f) != 3)
      continue;
    if (g_str_equal(f[0], "0") && *f[1] == '\0' && unified == NULL)
      unified = unit_from_cgroup_path(f[2]);
    else if (g_str_equal(f[1], "name=systemd") && named == NULL)
      named = unit_from_cgroup_path(f[2]);
  }
  return unified != NULL ? g_steal_pointer(&unified) : g_steal_pointer(&named);
}

static gboolean
parse_socket_link(const char *link, guint32 *out_inode)
{
  const char *p;
  char *end = NULL;
  guint64 v;

  if (!g_str_has_prefix(link, PROC_SOCKET_LINK_PREFIX))
    return FALSE;
  p = link + strlen(PROC_SOCKET_LINK_PREFIX);
  v = g_ascii_strtoull(p, &end, 10);
  if (end == p || g_strcmp0(end, "]") != 0 || v > G_MAXUINT32)
    return FALSE;
  *out_inode = (guint32)v;
  return TRUE;
}

/* Adds pid to holders[inode] for every wanted socket among its fds. */
static void
scan_process_fds(const char *pid_name, pid_t pid, GHashTable *holders, gboolean *incomplete)
{
  g_autofree char *dir_path = g_strdup_printf("/proc/%s/fd", pid_name);
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &local);
  const char *fd_name;

  if (dir == NULL) {
    /* ENOENT: the process exited meanwhile. */
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_ACCES) ||
        g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_PERM))
      *incomplete = TRUE;
    return;
  }
  while ((fd_name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *fd_path = g_strdup_printf("%s/%s", dir_path, fd_name);
    char link[64];
    ssize_t n = readlink(fd_path, link, sizeof(link) - 1);
    guint32 inode;
    GArray *pids;

    if (n < 0)
      continue;
    link[n] = '\0';
    if (!parse_socket_link(link, &inode))
      continue;
    pids = g_hash_table_lookup(holders, GUINT_TO_POINTER(inode));
    /* The same socket under two fds of one process counts once. */
    if (pids != NULL && (pids->len == 0 || g_array_index(pids, pid_t, pids->len - 1) != pid))
      g_array_append_val(pids, pid);
  }
}

static gboolean
scan_processes(GHashTable *holders, gboolean *incomplete, GError **error)
{
  g_autoptr(GDir) proc = g_dir_open("/proc", 0, error);
  const char *name;

  if (proc == NULL)
    return FALSE;
  while ((name = g_dir_read_name(proc)) != NULL) {
    guint64 pid;

    if (!g_ascii_string_to_unsigned(name, 10, 1, G_MAXINT32, &pid, NULL))
      continue;
    scan_process_fds(name, (pid_t)pid, holders, incomplete);
  }
  return TRUE;
}

static gint
owner_cmp(gconstpointer a, gconstpointer b)
{
  const TfstPortOwner *x = *(TfstPortOwner *const *)a;
  const TfstPortOwner *y = *(TfstPortOwner *const *)b;
  gboolean xl = x->tcp_state == TCP_LISTEN;
  gboolean yl = y->tcp_state == TCP_LISTEN;

  if (x->port != y->port)
    return (gint)x->port - (gint)y->port;
  if (xl != yl)
    return xl ? -1 : 1;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  return x->local.sa.sa_family - y->local.sa.sa_family;
}

GPtrArray *
tfst_port_owners_lookup(const guint16 *ports, guint n_ports, TfstPortOwnersFlags flags,
                        GError **error)
{
  g_autoptr(GPtrArray) sockets = NULL;
  g_autoptr(GPtrArray) owners = NULL;
  g_autoptr(GHashTable) holders = NULL;
  gboolean incomplete = FALSE;

  sockets = tfst_tcp_sockets_dump(ports, n_ports, states_mask(flags), error);
  if (sockets == NULL)
    return NULL;
  drop_accepted(sockets);
  owners = g_ptr_array_new_with_free_func((GDestroyNotify)tfst_port_owner_free);
  if (sockets->len == 0)
    return g_steal_pointer(&owners);

  holders =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)g_array_unref);
  for (guint i = 0; i < sockets->len; i++) {
    const TfstPortOwner *s = g_ptr_array_index(sockets, i);
    if (s->inode != 0)
      g_hash_table_insert(holders, GUINT_TO_POINTER(s->inode),
                          g_array_new(FALSE, FALSE, sizeof(pid_t)));
  }
  if (!scan_processes(holders, &incomplete, error))
    return NULL;

  for (guint i = 0; i < sockets->len; i++) {
    TfstPortOwner *s = g_ptr_array_index(sockets, i);
    GArray *pids = g_hash_table_lookup(holders, GUINT_TO_POINTER(s->inode));

    if (pids == NULL || pids->len == 0) {
      TfstPortOwner *o = g_memdup2(s, sizeof(*s));
      o->hidden = s->inode != 0 && incomplete;
      g_ptr_array_add(owners, o);
      continue;
    }
    for (guint j = 0; j < pids->len; j++) {
      TfstPortOwner *o = g_memdup2(s, sizeof(*s));
      o->pid = g_array_index(pids, pid_t, j);
      o->comm = read_comm(o->pid);
      o->unit = read_unit(o->pid);
      g_ptr_array_add(owners, o);
    }
  }
  g_ptr_array_sort(owners, owner_cmp);
  return g_steal_pointer(&owners);
}

GPtrArray *
tfst_port_owners(guint16 port, TfstPortOwnersFlags flags, GError **error)
{
  return tfst_port_owners_lookup(&port, 1, flags, error);
}

char *
tfst_port_owner_describe(const TfstPortOwner *o)
{
  GString *s = g_string_new(NULL);
  char buf[TFST_ADDR_STRLEN];

  if (o->pid != 0) {
    g_string_append_printf(s, "pid %d (%s)", (int)o->pid, o->comm);
    /* systemd itself holds the listening sockets of .socket units. */
    if (g_strcmp0(o->comm, "systemd") == 0)
      g_string_append_printf(s, " for a socket unit (see systemctl%s list-sockets)",
                             o->pid == 1 ? "" : " --user");
    else if (o->unit != NULL)
      g_string_append_printf(s, " of unit %s", o->unit);
  } else if (o->hidden) {
    g_string_append_printf(s,
                           "a process this user cannot see (run as root to see it; the "
                           "socket belongs to uid %u)",
                           o->uid);
  } else {
    g_string_append_printf(s, "a socket of uid %u that no process in this PID namespace holds",
                           o->uid);
  }
  if (o->tcp_state != TCP_LISTEN)
    g_string_append_printf(s, ", %s connection to %s", tfst_tcp_state_to_string(o->tcp_state),
                           tfst_addr_format(&o->remote, buf));
  return g_string_free(s, FALSE);
}

/* ---- bind failures */

static char *
holders_text(guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) owners = tfst_port_owners(port, TFST_PORT_OWNERS_CONNECTIONS, &error);
  g_autoptr(GPtrArray) seen = NULL;
  GString *s;

  if (owners == NULL)
    return g_strdup_printf("port %u is in use; who holds it is unknown (%s)", port, error->message);
  if (owners->len == 0)
    return g_strdup_printf("port %u is in use, but no TCP socket on it is visible in this "
                           "network namespace (it may have been released meanwhile)",
                           port);
  seen = g_ptr_array_new_with_free_func(g_free);
  s = g_string_new(NULL);
  g_string_append_printf(s, "port %u is held by ", port);
  for (guint i = 0; i < owners->len; i++) {
    g_autofree char *d = tfst_port_owner_describe(g_ptr_array_index(owners, i));

    /* 0.0.0.0 and [::] listeners of one process read the same. */
    if (g_ptr_array_find_with_equal_func(seen, d, g_str_equal, NULL))
      continue;
    if (seen->len == DIAGNOSIS_MAX_HOLDERS) {
      g_string_append(s, " and others");
      break;
    }
    if (seen->len > 0)
      g_string_append(s, ", ");
    g_string_append(s, d);
    g_ptr_array_add(seen, g_steal_pointer(&d));
  }
  return g_string_free(s, FALSE);
}

static char *
policy_text(guint16 port)
{
  return g_strdup_printf("port %u: a security policy refused the bind (SELinux, AppArmor, "
                         "seccomp, or a BPF program such as the unit's SocketBindDeny=)",
                         port);
}

static char *
cause_text(const TfstSockAddr *addr, int err, const TfstPortSysctl *sysctl)
{
  guint16 port = tfst_addr_port(addr);
  char ip[TFST_ADDR_STRLEN];
  char *colon;

  switch (err) {
    case EADDRINUSE:
      return holders_text(port);
    case EACCES:
      if (port < sysctl->unprivileged_start)
        return g_strdup_printf(
            "port %u is privileged: ports below %u need CAP_NET_BIND_SERVICE: add "
            "AmbientCapabilities=CAP_NET_BIND_SERVICE and "
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE in a drop-in, or lower "
            "net.ipv4.ip_unprivileged_port_start, or let the socket unit bind it",
            port, sysctl->unprivileged_start);
      return policy_text(port);
    case EPERM:
      return policy_text(port);
    case EADDRNOTAVAIL:
      tfst_addr_format(addr, ip);
      colon = strrchr(ip, ':');
      if (colon != NULL)
        *colon = '\0';
      return g_strdup_printf("port %u: address %s not on this host (see ip -br address; "
                             "net.ipv4.ip_nonlocal_bind=1 allows binding it before it is "
                             "configured)",
                             port, ip);
    default:
      return g_strdup_printf("port %u: %s", port, g_strerror(err));
  }
}

static char *
ephemeral_text(guint16 port, const TfstPortSysctl *sysctl)
{
  g_autoptr(GArray) merged = NULL;
  g_autofree char *list = NULL;

  if (port == 0 || !tfst_port_sysctl_is_ephemeral(sysctl, port) ||
      tfst_port_sysctl_is_reserved(sysctl, port))
    return NULL;
  merged = g_array_copy(sysctl->reserved);
  tfst_port_list_add(merged, port);
  list = tfst_port_list_format(merged);
  return g_strdup_printf("port %u is inside the ephemeral range %u-%u "
                         "(net.ipv4.ip_local_port_range): outgoing connections may take it; "
                         "reserve it with: sysctl -w net.ipv4.ip_local_reserved_ports=%s "
                         "(add it to /etc/sysctl.d/)",
                         port, sysctl->ephemeral.lo, sysctl->ephemeral.hi, list);
}

char *
tfst_bind_diagnosis_full(const TfstSockAddr *addr, int err, const TfstPortSysctl *sysctl)
{
  g_autoptr(TfstPortSysctl) loaded = NULL;
  g_autofree char *cause = NULL;
  g_autofree char *warning = NULL;

  if (sysctl == NULL) {
    loaded = tfst_port_sysctl_load(NULL, NULL);
    if (loaded == NULL) {
      /* Unknown settings: no ephemeral warning, the classic privileged limit. */
      loaded = g_new0(TfstPortSysctl, 1);
      loaded->ephemeral = (TfstPortRange){1, 0};
      loaded->reserved = g_array_new(FALSE, FALSE, sizeof(TfstPortRange));
      loaded->unprivileged_start = DEFAULT_UNPRIVILEGED;
    }
    sysctl = loaded;
  }
  cause = cause_text(addr, err, sysctl);
  warning = ephemeral_text(tfst_addr_port(addr), sysctl);
  if (warning == NULL)
    return g_steal_pointer(&cause);
  return g_strdup_printf("%s; %s", cause, warning);
}

char *
tfst_bind_diagnosis(const TfstSockAddr *addr, int err)
{
  return tfst_bind_diagnosis_full(addr, err, NULL);
}

void
tfst_bind_error_add_diagnosis(GError **error, const TfstSockAddr *addr, int err)
{
  g_autofree char *diagnosis = NULL;
  char *message;

  if (error == NULL || *error == NULL)
    return;
  diagnosis = tfst_bind_diagnosis(addr, err);
  message = g_strdup_printf("%s; %s", (*error)->message, diagnosis);
  g_free((*error)->message);
  (*error)->message = message;
}
