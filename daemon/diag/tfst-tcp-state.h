/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel TCP states (TCP_LISTEN, TCP_ESTABLISHED, ...) by name. */
#pragma once

#include <glib.h>

/* "LISTEN", "ESTABLISHED", "TIME-WAIT", ... as ss(8) writes them;
 * "UNKNOWN" for anything else. */
const char *tfst_tcp_state_to_string(guint8 state);
