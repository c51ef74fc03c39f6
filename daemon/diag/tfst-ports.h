/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Ports: the ITM rule's candidate list, who holds a TCP port, the kernel's
 * ephemeral and reserved port settings, and operator-ready text explaining
 * why a bind failed.
 *
 * Independent of the data plane.  The lookups read /proc and dump sockets
 * over NETLINK_INET_DIAG synchronously: call them at startup, from tfstctl,
 * or from a GTask thread, never from a main-context callback. */
#pragma once

#include "tfst-frame.h"

#include <sys/types.h>

#define TFST_PORT_STRIDE 4096

/* Base + (Skip + k) * 4096 for k = 0, 1, ... while the port is <= 65535,
 * at most count ports (0: all that fit).  Port 0 is never a candidate.
 * Returns a GArray of guint16, possibly empty. */
GArray *tfst_ports_candidates(guint base, guint skip, guint count) G_GNUC_WARN_UNUSED_RESULT;

/* ---- sysctl: net.ipv4.ip_local_port_range, ip_local_reserved_ports,
 * ip_unprivileged_port_start.  The parsers take text so they can be tested
 * without a kernel. */

typedef struct {
  guint16 lo;
  guint16 hi;
} TfstPortRange;

/* "32768\t60999" (ip_local_port_range). */
gboolean tfst_port_range_parse(const char *text, TfstPortRange *out_range, GError **error);
/* "1918,6014-6020" (ip_local_reserved_ports; empty text is an empty list).
 * Returns sorted, merged TfstPortRange entries. */
GArray *tfst_port_list_parse(const char *text, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean tfst_port_list_contains(const GArray *list, guint16 port);
/* Adds port, keeping the list sorted and merged. */
void tfst_port_list_add(GArray *list, guint16 port);
/* The kernel's own notation: "1918,6014-6020"; "" for an empty list. */
char *tfst_port_list_format(const GArray *list) G_GNUC_WARN_UNUSED_RESULT;

typedef struct {
  TfstPortRange ephemeral;  /* net.ipv4.ip_local_port_range */
  GArray *reserved;         /* TfstPortRange: net.ipv4.ip_local_reserved_ports */
  guint unprivileged_start; /* net.ipv4.ip_unprivileged_port_start (1024 before Linux 4.11) */
} TfstPortSysctl;

/* Reads the three settings from dir (NULL: /proc/sys/net/ipv4). */
TfstPortSysctl *tfst_port_sysctl_load(const char *dir, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void tfst_port_sysctl_free(TfstPortSysctl *sysctl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstPortSysctl, tfst_port_sysctl_free)
gboolean tfst_port_sysctl_is_ephemeral(const TfstPortSysctl *sysctl, guint16 port);
gboolean tfst_port_sysctl_is_reserved(const TfstPortSysctl *sysctl, guint16 port);

/* Read /proc each call; FALSE when the settings cannot be read. */
gboolean tfst_port_is_ephemeral(guint16 port);
gboolean tfst_port_is_reserved(guint16 port);

/* ---- who holds a port */

typedef enum {
  TFST_PORT_OWNERS_LISTENING = 0, /* LISTEN sockets only */
  /* Also connections whose local port it is, for ports nothing listens on:
   * an outgoing connection that took the port blocks a bind just as well,
   * while the accepted connections of a listener would only repeat it. */
  TFST_PORT_OWNERS_CONNECTIONS = 1 << 0,
} TfstPortOwnersFlags;

typedef struct {
  guint16 port;     /* local port */
  guint8 tcp_state; /* kernel TCP state: TCP_LISTEN, TCP_ESTABLISHED, ... */
  TfstSockAddr local;
  TfstSockAddr remote; /* unspecified address, port 0 for listeners */
  guint32 uid;         /* socket owner */
  guint32 inode;
  guint8 timer;       /* inet_diag idiag_timer: 0 none, 1 retransmit, 2 keepalive, ... */
  guint32 expires_ms; /* until that timer fires */
  pid_t pid;          /* 0: no process visible to us holds the socket */
  gboolean hidden;    /* pid 0 and some processes' fds were unreadable (not root) */
  char *comm;         /* /proc/PID/comm, made printable; NULL when pid is 0 */
  char *unit;         /* systemd unit from /proc/PID/cgroup, NULL when none */
} TfstPortOwner;

/* Every TCP socket of this network namespace in a state of `states` (a
 * mask of 1 << TCP_*) from inet_diag, with no process looked up; ports
 * NULL means any local port. */
GPtrArray *tfst_tcp_sockets_dump(const guint16 *ports, guint n_ports, guint32 states,
                                 GError **error);

void tfst_port_owner_free(TfstPortOwner *owner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstPortOwner, tfst_port_owner_free)
const char *tfst_tcp_state_to_string(guint8 state);

/* TCP sockets (IPv4 and IPv6) bound to any of ports, with the processes
 * holding them: one entry per (socket, process), one entry with pid 0 for a
 * socket no visible process holds.  Sorted by port, listeners first, then
 * pid.  Unprivileged callers see the processes of their own user; root sees
 * all.  Returns a GPtrArray of TfstPortOwner, or NULL with error set. */
GPtrArray *tfst_port_owners_lookup(const guint16 *ports, guint n_ports, TfstPortOwnersFlags flags,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;
GPtrArray *tfst_port_owners(guint16 port, TfstPortOwnersFlags flags,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Systemd unit from the text of /proc/PID/cgroup: the last path component
 * ending in .service, .scope or .socket of the unified (0::) hierarchy, else
 * of name=systemd.  NULL when there is none. */
char *tfst_unit_from_cgroup(const char *text) G_GNUC_WARN_UNUSED_RESULT;

/* "pid 1234 (haproxy) of unit haproxy.service", or what is known otherwise. */
char *tfst_port_owner_describe(const TfstPortOwner *owner) G_GNUC_WARN_UNUSED_RESULT;

/* ---- bind failures */

/* Operator-ready explanation of bind(addr) failing with err (an errno):
 * the port in decimal, the cause (EADDRINUSE: who holds it; EACCES:
 * privileged port or policy; EADDRNOTAVAIL: address not on this host) and
 * the fix, plus a warning when the port lies in the ephemeral range and is
 * not reserved.  Not translated: it goes to the journal.  Never NULL. */
char *tfst_bind_diagnosis(const TfstSockAddr *addr, int err) G_GNUC_WARN_UNUSED_RESULT;
/* The same with given sysctl values (NULL: read them). */
char *tfst_bind_diagnosis_full(const TfstSockAddr *addr, int err,
                               const TfstPortSysctl *sysctl) G_GNUC_WARN_UNUSED_RESULT;
/* Appends "; <diagnosis>" to (*error)->message; no-op when error or *error is NULL. */
void tfst_bind_error_add_diagnosis(GError **error, const TfstSockAddr *addr, int err);
