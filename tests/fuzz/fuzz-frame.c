/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: a byte stream as a hop reads it.  Every frame header is
 * decoded, its payload shape checked, and its payload handed to the decoder
 * the hop would use, exactly as tfst-hop.c does, so what the fuzzer reaches
 * is what a hostile peer can reach with one connection. */
#include "tfst-frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_label(int r, const char *label)
{
  /* A decoder that says OK must hand out a label the rest of the daemon
   * can print and compare. */
  if (r == TFST_FRAME_OK && !tfst_label_is_valid(label))
    abort();
}

static void
decode_tlv_payload(const TfstFrameHeader *h, const guint8 *p)
{
  TfstHelloMsg hello;
  TfstOpenMsg open;
  TfstTellMsg tell;
  char label[TFST_LABEL_MAX + 1];
  char text[128];
  guint32 reason;

  switch (h->type) {
    case TFST_FRAME_HELLO:
      check_label(tfst_frame_decode_hello(p, h->length, &hello), hello.label);
      break;
    case TFST_FRAME_IAM:
      check_label(tfst_frame_decode_iam(p, h->length, label), label);
      break;
    case TFST_FRAME_OPEN:
      if (tfst_frame_decode_open(p, h->length, &open) == TFST_FRAME_OK && open.window == 0)
        abort();
      break;
    case TFST_FRAME_TELL:
    case TFST_FRAME_TELL_OK:
      tfst_tell_msg_init(&tell);
      check_label(tfst_frame_decode_tell(p, h->length, &tell), tell.label);
      tfst_tell_msg_clear(&tell);
      break;
    case TFST_FRAME_GOAWAY:
      if (tfst_frame_decode_goaway(p, h->length, &reason, text, sizeof(text)) == TFST_FRAME_OK &&
          strlen(text) >= sizeof(text))
        abort();
      break;
    default:
      break;
  }
}

static void
decode_payload(const TfstFrameHeader *h, const guint8 *p)
{
  guint32 v;

  if (tfst_frame_payload_check(h, p) != TFST_FRAME_OK)
    return;
  switch (h->type) {
    case TFST_FRAME_OPEN_OK:
    case TFST_FRAME_OPEN_FAIL:
    case TFST_FRAME_RST:
    case TFST_FRAME_CREDIT:
      if (tfst_frame_decode_u32(h, p, &v) != TFST_FRAME_OK)
        abort();
      break;
    case TFST_FRAME_PING:
    case TFST_FRAME_PONG:
      (void)tfst_frame_decode_u64(p);
      break;
    default:
      decode_tlv_payload(h, p);
      break;
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  TfstFrameHeader h;

  /* Stop at the first bad header, as the hop closes the connection there;
   * TRUNCATED is the hop waiting for more bytes. */
  while (tfst_frame_header_decode(data, size, &h) == TFST_FRAME_OK) {
    if (size - TFST_FRAME_HEADER_SIZE < h.length)
      break;
    decode_payload(&h, data + TFST_FRAME_HEADER_SIZE);
    data += TFST_FRAME_HEADER_SIZE + h.length;
    size -= TFST_FRAME_HEADER_SIZE + h.length;
  }
  return 0;
}
