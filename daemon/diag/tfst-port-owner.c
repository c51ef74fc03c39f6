/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One socket on a port and the process holding it (see
 * tfst-port-owner.h). */
#include "tfst-port-owner.h"
#include "tfst-tcp-state.h"

#include <netinet/tcp.h>

void
tfst_port_owner_free(TfstPortOwner *owner)
{
  if (owner == NULL)
    return;
  g_free(owner->comm);
  g_free(owner->unit);
  g_free(owner);
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
