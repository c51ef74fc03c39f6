/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel TCP state names (see tfst-tcp-state.h). */
#include "tfst-tcp-state.h"

#include <netinet/tcp.h>

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
