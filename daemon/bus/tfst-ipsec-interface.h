/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Ipsec: the kernel's IPsec SAs, SPI-conflict checks and
 * IPsec statistics, and the ConflictDetected signal from a monitor of SA
 * events (dbus/org.tfst.Tfst1.Ipsec.xml). */
#pragma once

#include "tfst-authz.h"
#include "tfst-log.h"

#include <gio/gio.h>

/* The interface skeleton; its state and the monitor live as long as it
 * does.  `authz` and `log` must outlive it.  Without CAP_NET_ADMIN the
 * methods that read SAs fail naming the capability, and the monitor is
 * off (logged once). */
GDBusInterfaceSkeleton *tfst_ipsec_interface_new(TfstAuthz *authz,
                                                 TfstLog *log) G_GNUC_WARN_UNUSED_RESULT;
