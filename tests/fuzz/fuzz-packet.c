/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the trace packet decoder (org.tfst.Tfst1.Trace), fed
 * captured IP packets as libpcap would hand them over. */
#include "tfst-packet.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_info(const TfstPacketInfo *info, size_t size)
{
  /* header_length is used to slice the captured bytes. */
  if (info->header_length > size)
    abort();
  if (memchr(info->source, '\0', sizeof(info->source)) == NULL ||
      memchr(info->destination, '\0', sizeof(info->destination)) == NULL)
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  TfstPacketInfo info;
  g_autofree char *flags = NULL;

  if (tfst_packet_decode(data, size, &info)) {
    check_info(&info, size);
    flags = tfst_packet_flags_to_string(info.flags);
  }
  (void)tfst_packet_wire_length(data, size);
  return 0;
}
