/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ITM rule's candidate ports (see tfst-ports.h). */
#include "tfst-ports.h"

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
