/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: TELL and TELL_OK payloads, the chain, networks and
 * forwards a child or parent announces.  Whatever decodes must encode again
 * and decode to the same entries, or what a relay re-announces upward would
 * differ from what it was told. */
#include "tfst-frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean
array_equal(const GArray *a, const GArray *b, gsize elt)
{
  /* An empty GArray may have no storage at all. */
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, (gsize)a->len * elt) == 0);
}

static gboolean
tell_equal(guint8 type, const TfstTellMsg *a, const TfstTellMsg *b)
{
  /* TELL carries no ROOTED field when re-encoded. */
  if (type == TFST_FRAME_TELL_OK && a->rooted != b->rooted)
    return FALSE;
  return strcmp(a->label, b->label) == 0 &&
         array_equal(a->chain, b->chain, sizeof(TfstChainEntry)) &&
         array_equal(a->networks, b->networks, sizeof(TfstNetworkEntry)) &&
         array_equal(a->forwards, b->forwards, sizeof(TfstForwardEntry));
}

static void
round_trip(guint8 type, const TfstTellMsg *m, size_t in_size)
{
  g_autoptr(GByteArray) frame = tfst_frame_encode_tell(type, m);
  TfstFrameHeader h;
  TfstTellMsg again;

  /* Re-encoding adds at most a ROOTED field (4 bytes) to what was decoded. */
  if (frame == NULL) {
    if (in_size + 4 <= TFST_FRAME_MAX_PAYLOAD)
      abort();
    return;
  }
  if (tfst_frame_header_decode(frame->data, frame->len, &h) != TFST_FRAME_OK || h.type != type ||
      h.length != frame->len - TFST_FRAME_HEADER_SIZE)
    abort();
  tfst_tell_msg_init(&again);
  if (tfst_frame_decode_tell(frame->data + TFST_FRAME_HEADER_SIZE, h.length, &again) !=
          TFST_FRAME_OK ||
      !tell_equal(type, m, &again))
    abort();
  tfst_tell_msg_clear(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  guint8 type;
  TfstTellMsg m;

  if (size < 1 || size - 1 > TFST_FRAME_MAX_PAYLOAD)
    return 0;
  type = data[0] & 1 ? TFST_FRAME_TELL_OK : TFST_FRAME_TELL;
  tfst_tell_msg_init(&m);
  if (tfst_frame_decode_tell(data + 1, size - 1, &m) == TFST_FRAME_OK)
    round_trip(type, &m, size - 1);
  tfst_tell_msg_clear(&m);
  return 0;
}
