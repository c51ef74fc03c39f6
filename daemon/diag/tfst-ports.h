/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Ports: the ITM rule's candidate list.
 *
 * For now this header also brings in the rest of the port diagnostics,
 * each in its own file, for the callers that used to find them all here:
 * tfst-port-range.h, tfst-port-list.h, tfst-port-sysctl.h (the kernel's
 * settings), tfst-tcp-state.h, tfst-port-owner.h, tfst-tcp-sockets.h,
 * tfst-port-owners.h (who holds a port) and tfst-bind-diagnosis.h (why a
 * bind failed). */
#pragma once

#include "tfst-bind-diagnosis.h"
#include "tfst-port-list.h"
#include "tfst-port-owners.h"
#include "tfst-port-sysctl.h"
#include "tfst-tcp-state.h"

#include <glib.h>

#define TFST_PORT_STRIDE 4096

/* Base + (Skip + k) * 4096 for k = 0, 1, ... while the port is <= 65535,
 * at most count ports (0: all that fit).  Port 0 is never a candidate.
 * Returns a GArray of guint16, possibly empty. */
GArray *tfst_ports_candidates(guint base, guint skip, guint count) G_GNUC_WARN_UNUSED_RESULT;
