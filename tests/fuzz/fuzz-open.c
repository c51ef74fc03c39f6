/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the OPEN payload, which names the forward, the client
 * and destination addresses and the window of a new session.  Whatever
 * decodes must encode again and decode to the same message. */
#include "tfst-frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean
open_msg_equal(const TfstOpenMsg *a, const TfstOpenMsg *b)
{
  return strcmp(a->forward, b->forward) == 0 && strcmp(a->origin, b->origin) == 0 &&
         strcmp(a->route, b->route) == 0 &&
         memcmp(&a->client, &b->client, sizeof(a->client)) == 0 &&
         memcmp(&a->dest, &b->dest, sizeof(a->dest)) == 0 && a->window == b->window;
}

static void
check_labels(const TfstOpenMsg *m)
{
  if (!tfst_label_is_valid(m->origin) ||
      (m->forward[0] != '\0' && !tfst_label_is_valid(m->forward)) ||
      (m->route[0] != '\0' && !tfst_label_is_valid(m->route)))
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  TfstOpenMsg m, again;
  TfstFrameHeader h;
  guint8 frame[1024];
  gssize n;

  if (size > TFST_FRAME_MAX_PAYLOAD || tfst_frame_decode_open(data, size, &m) != TFST_FRAME_OK)
    return 0;
  check_labels(&m);
  n = tfst_frame_encode_open(frame, sizeof(frame), 1, &m);
  if (n < TFST_FRAME_HEADER_SIZE || tfst_frame_header_decode(frame, n, &h) != TFST_FRAME_OK ||
      h.type != TFST_FRAME_OPEN || h.session != 1 || h.length != (gsize)n - TFST_FRAME_HEADER_SIZE)
    abort();
  if (tfst_frame_decode_open(frame + TFST_FRAME_HEADER_SIZE, h.length, &again) != TFST_FRAME_OK ||
      !open_msg_equal(&m, &again))
    abort();
  return 0;
}
