/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: EVENT and EVENT_ACK, which a child (EVENT) or a parent
 * (EVENT_ACK) may send once the hop is up.  A batch that decodes must walk
 * to exactly its count of events, each 1 ... TFST_EVENT_MAX bytes, and
 * encode again to the same bytes; an EVENT_ACK likewise. */
#include "tfst-config.h"
#include "tfst-frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
event_round_trip(const guint8 *p, guint32 len)
{
  gsize cap = TFST_FRAME_HEADER_SIZE + len;
  g_autofree guint8 *frame = NULL;
  TfstEventMsg m;
  const guint8 *ev;
  gsize off = 0, elen;
  gssize used;
  guint32 n = 0;

  if (tfst_frame_decode_event(p, len, &m) != TFST_FRAME_OK)
    return;
  frame = g_malloc(cap);
  used = tfst_frame_event_begin(frame, cap, &m.stream, m.base, m.first);
  while (used > 0 && tfst_frame_event_next(&m, &off, &ev, &elen)) {
    if (elen == 0 || elen > TFST_EVENT_MAX)
      abort();
    used = tfst_frame_event_add(frame, cap, used, ev, elen);
    n++;
  }
  if (used < 0 || n != m.count || tfst_frame_event_end(frame, used) != (gssize)cap ||
      memcmp(frame + TFST_FRAME_HEADER_SIZE, p, len) != 0)
    abort();
}

static void
ack_round_trip(const guint8 *p, guint32 len)
{
  TfstEventAckMsg m, again;
  guint8 frame[256];
  gssize n;

  if (tfst_frame_decode_event_ack(p, len, &m) != TFST_FRAME_OK)
    return;
  n = tfst_frame_encode_event_ack(frame, sizeof(frame), &m);
  if (n != (gssize)(TFST_FRAME_HEADER_SIZE + len) ||
      tfst_frame_decode_event_ack(frame + TFST_FRAME_HEADER_SIZE, len, &again) != TFST_FRAME_OK ||
      strcmp(again.stream.origin, m.stream.origin) != 0 ||
      strcmp(again.stream.sink, m.stream.sink) != 0 || again.stream.epoch != m.stream.epoch ||
      again.acked != m.acked || again.status != m.status)
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size - 1 > TFST_FRAME_MAX_PAYLOAD)
    return 0;
  /* The first byte picks the message, the rest is its payload. */
  if (data[0] % 2 == 0)
    event_round_trip(data + 1, size - 1);
  else
    ack_round_trip(data + 1, size - 1);
  return 0;
}
