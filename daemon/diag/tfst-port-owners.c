/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who holds a TCP port: inet_diag plus a scan of /proc (see
 * tfst-port-owners.h). */
#include "tfst-port-owners.h"
#include "tfst-tcp-sockets.h"

#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#define PROC_SOCKET_LINK_PREFIX "socket:["

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

/* sd-login rather than parsing /proc/PID/cgroup ourselves: systemd knows its
 * cgroup layouts (v1, hybrid, unified) and names the unit as systemctl does.
 * A process of a user's service manager is named by its user unit
 * (app-firefox.scope), not by user@1000.service. */
static char *
read_unit(pid_t pid)
{
  char *unit = NULL;
  char *text;

  if (sd_pid_get_user_unit(pid, &unit) < 0 && sd_pid_get_unit(pid, &unit) < 0)
    return NULL;
  text = printable(unit);
  free(unit);
  return text;
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

/* inode -> GArray of pid_t, an empty array for each socket to look for. */
static GHashTable *
holders_new(const GPtrArray *sockets)
{
  GHashTable *holders =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)g_array_unref);

  for (guint i = 0; i < sockets->len; i++) {
    const TfstPortOwner *s = g_ptr_array_index(sockets, i);
    if (s->inode != 0)
      g_hash_table_insert(holders, GUINT_TO_POINTER(s->inode),
                          g_array_new(FALSE, FALSE, sizeof(pid_t)));
  }
  return holders;
}

/* Appends one entry per process holding socket s, or one with pid 0. */
static void
add_owners(GPtrArray *owners, const TfstPortOwner *s, const GArray *pids, gboolean incomplete)
{
  if (pids == NULL || pids->len == 0) {
    TfstPortOwner *o = g_memdup2(s, sizeof(*s));
    o->hidden = s->inode != 0 && incomplete;
    g_ptr_array_add(owners, o);
    return;
  }
  for (guint j = 0; j < pids->len; j++) {
    TfstPortOwner *o = g_memdup2(s, sizeof(*s));
    o->pid = g_array_index(pids, pid_t, j);
    o->comm = read_comm(o->pid);
    o->unit = read_unit(o->pid);
    g_ptr_array_add(owners, o);
  }
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
  holders = holders_new(sockets);
  if (!scan_processes(holders, &incomplete, error))
    return NULL;
  for (guint i = 0; i < sockets->len; i++) {
    const TfstPortOwner *s = g_ptr_array_index(sockets, i);

    add_owners(owners, s, g_hash_table_lookup(holders, GUINT_TO_POINTER(s->inode)), incomplete);
  }
  g_ptr_array_sort(owners, owner_cmp);
  return g_steal_pointer(&owners);
}

GPtrArray *
tfst_port_owners(guint16 port, TfstPortOwnersFlags flags, GError **error)
{
  return tfst_port_owners_lookup(&port, 1, flags, error);
}
