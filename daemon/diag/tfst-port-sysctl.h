/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel's port settings: net.ipv4.ip_local_port_range,
 * ip_local_reserved_ports, ip_unprivileged_port_start. */
#pragma once

#include "tfst-port-list.h"

typedef struct {
  TfstPortRange ephemeral;  /* net.ipv4.ip_local_port_range */
  GArray *reserved;         /* TfstPortRange: net.ipv4.ip_local_reserved_ports */
  guint unprivileged_start; /* net.ipv4.ip_unprivileged_port_start (1024 before Linux 4.11) */
} TfstPortSysctl;

/* Reads the three settings from dir (NULL: /proc/sys/net/ipv4). */
TfstPortSysctl *tfst_port_sysctl_load(const char *dir, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Stands in when the settings cannot be read: no ephemeral range, nothing
 * reserved, ports below 1024 privileged. */
TfstPortSysctl *tfst_port_sysctl_new_unknown(void) G_GNUC_WARN_UNUSED_RESULT;
void tfst_port_sysctl_free(TfstPortSysctl *sysctl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstPortSysctl, tfst_port_sysctl_free)
gboolean tfst_port_sysctl_is_ephemeral(const TfstPortSysctl *sysctl, guint16 port);
gboolean tfst_port_sysctl_is_reserved(const TfstPortSysctl *sysctl, guint16 port);
