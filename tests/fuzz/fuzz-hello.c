/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the handshake payloads (HELLO, IAM) and GOAWAY, which
 * a peer can send before it has proven anything.  Whatever decodes must
 * encode again and decode to the same message. */
#include "tfst-frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The payload of an encoded frame, after checking its header. */
static const guint8 *
reencoded_payload(const guint8 *frame, gssize n, guint8 type, guint32 *out_len)
{
  TfstFrameHeader h;

  if (n < TFST_FRAME_HEADER_SIZE || tfst_frame_header_decode(frame, n, &h) != TFST_FRAME_OK ||
      h.type != type || h.length != (gsize)n - TFST_FRAME_HEADER_SIZE ||
      tfst_frame_payload_check(&h, frame + TFST_FRAME_HEADER_SIZE) != TFST_FRAME_OK)
    abort();
  *out_len = h.length;
  return frame + TFST_FRAME_HEADER_SIZE;
}

static void
hello_round_trip(const guint8 *p, guint32 len)
{
  TfstHelloMsg m, again;
  guint8 frame[256];
  const guint8 *q;
  guint32 qlen;

  if (tfst_frame_decode_hello(p, len, &m) != TFST_FRAME_OK)
    return;
  q = reencoded_payload(frame,
                        tfst_frame_encode_hello(frame, sizeof(frame), m.role, m.label, m.features),
                        TFST_FRAME_HELLO, &qlen);
  if (tfst_frame_decode_hello(q, qlen, &again) != TFST_FRAME_OK || again.role != m.role ||
      strcmp(again.label, m.label) != 0 || again.features != m.features)
    abort();
}

static void
iam_round_trip(const guint8 *p, guint32 len)
{
  char label[TFST_LABEL_MAX + 1], again[TFST_LABEL_MAX + 1];
  guint8 frame[256];
  const guint8 *q;
  guint32 qlen;

  if (tfst_frame_decode_iam(p, len, label) != TFST_FRAME_OK)
    return;
  q = reencoded_payload(frame, tfst_frame_encode_iam(frame, sizeof(frame), label), TFST_FRAME_IAM,
                        &qlen);
  if (tfst_frame_decode_iam(q, qlen, again) != TFST_FRAME_OK || strcmp(again, label) != 0)
    abort();
}

static void
goaway_decode(const guint8 *p, guint32 len)
{
  char text[64];
  guint32 reason;

  if (tfst_frame_decode_goaway(p, len, &reason, text, sizeof(text)) != TFST_FRAME_OK)
    return;
  /* The text goes to the journal: printable ASCII only. */
  for (const char *c = text; *c != '\0'; c++)
    if (!g_ascii_isprint(*c))
      abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size - 1 > TFST_FRAME_MAX_PAYLOAD)
    return 0;
  /* The first byte picks the message, the rest is its payload. */
  switch (data[0] % 3) {
    case 0:
      hello_round_trip(data + 1, size - 1);
      break;
    case 1:
      iam_round_trip(data + 1, size - 1);
      break;
    default:
      goaway_decode(data + 1, size - 1);
      break;
  }
  return 0;
}
