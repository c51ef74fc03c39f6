/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Why a bind failed, in words an operator can act on (see
 * tfst-bind-diagnosis.h). */
#include "tfst-bind-diagnosis.h"
#include "tfst-port-list.h"
#include "tfst-port-owners.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

#define DIAGNOSIS_MAX_HOLDERS 4

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
      /* Listeners bind with IP_FREEBIND, which covers what
       * ip_nonlocal_bind would: the address itself is refused. */
      return g_strdup_printf("port %u: address %s is not on this host (see ip -br address)", port,
                             ip);
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
    /* Unknown settings: no ephemeral warning, the classic privileged limit. */
    if (loaded == NULL)
      loaded = tfst_port_sysctl_new_unknown();
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
tfst_bind_diagnosis_add_to_error(GError **error, const TfstSockAddr *addr, int err)
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
