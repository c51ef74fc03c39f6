/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the RFC 6587 framing of TCP event input
 * (tfst-syslog-framing.c), which any host of an outer zone can feed.  The
 * stream is parsed twice, in one piece and in chunks the input chooses:
 * both must yield the same events and verdicts; every event is 1-65536
 * bytes, there is always room for the next read, and the buffer never
 * grows beyond TFST_SYSLOG_FRAMING_BUF. */
#include "tfst-syslog-framing.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
log_result(GByteArray *log, TfstSyslogFramingResult r, const guint8 *ev, gsize len)
{
  guint8 tag = (guint8)r;

  g_byte_array_append(log, &tag, 1);
  if (r != TFST_SYSLOG_FRAMING_EVENT)
    return;
  if (len < 1 || len > TFST_EVENT_MAX)
    abort();
  g_byte_array_append(log, (const guint8 *)&len, sizeof(len));
  g_byte_array_append(log, ev, (guint)len);
}

/* FALSE once the framing is lost. */
static gboolean
drain(TfstSyslogFraming *f, GByteArray *log)
{
  TfstSyslogFramingResult r;
  const guint8 *ev = NULL;
  gsize len = 0;

  while ((r = tfst_syslog_framing_next(f, &ev, &len)) != TFST_SYSLOG_FRAMING_NONE) {
    if (r == TFST_SYSLOG_FRAMING_TRUNCATED)
      abort(); /* only the end of the stream truncates */
    log_result(log, r, ev, len);
    if (tfst_syslog_framing_lost(f))
      return FALSE;
  }
  if (tfst_syslog_framing_capacity(f) > TFST_SYSLOG_FRAMING_BUF)
    abort();
  return TRUE;
}

static gboolean
feed(TfstSyslogFraming *f, GByteArray *log, const guint8 *p, gsize len, gsize chunk)
{
  while (len > 0) {
    gsize room = 0;
    guint8 *to = tfst_syslog_framing_space(f, &room);
    gsize n = MIN(MIN(room, chunk), len);

    if (room == 0)
      abort();
    memcpy(to, p, n);
    tfst_syslog_framing_commit(f, n);
    p += n;
    len -= n;
    if (!drain(f, log))
      return FALSE;
  }
  return TRUE;
}

/* The stream is `len` bytes repeated `reps` times: long lines and
 * oversize events fit in a short input. */
static GByteArray *
parse(const guint8 *p, gsize len, guint reps, gsize chunk)
{
  TfstSyslogFraming *f = tfst_syslog_framing_new();
  GByteArray *log = g_byte_array_new();
  const guint8 *ev = NULL;
  gsize ev_len = 0;
  TfstSyslogFramingResult r = TFST_SYSLOG_FRAMING_NONE;
  gboolean going = TRUE;

  for (guint i = 0; i < reps && going; i++)
    going = feed(f, log, p, len, chunk);
  if (going)
    r = tfst_syslog_framing_finish(f, &ev, &ev_len);
  if (r != TFST_SYSLOG_FRAMING_NONE)
    log_result(log, r, ev, ev_len);
  if (tfst_syslog_framing_finish(f, &ev, &ev_len) != TFST_SYSLOG_FRAMING_NONE)
    abort();
  tfst_syslog_framing_free(f);
  return log;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GByteArray *whole;
  GByteArray *chunked;

  if (size < 2)
    return 0;
  /* Byte 0: the chunk size of the second parse (1-256); byte 1: how often
   * the rest is repeated (1-4). */
  whole = parse(data + 2, size - 2, data[1] % 4 + 1, G_MAXSIZE);
  chunked = parse(data + 2, size - 2, data[1] % 4 + 1, (gsize)data[0] + 1);
  if (whole->len != chunked->len ||
      (whole->len > 0 && memcmp(whole->data, chunked->data, whole->len) != 0))
    abort();
  g_byte_array_unref(whole);
  g_byte_array_unref(chunked);
  return 0;
}
