/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-syslog-framing.h"

#include <string.h>

/* Most events are a few hundred bytes: a connection's buffer starts small
 * and doubles only while one event does not fit. */
#define FRAMING_INITIAL 4096u

struct TfstSyslogFraming {
  TfstSyslogFramingMode mode;
  gboolean lost;
  gboolean skipping; /* inside an oversize line: dropping up to its LF */
  guint8 *buf;
  gsize cap;
  gsize start;   /* first byte not parsed away */
  gsize end;     /* end of the committed bytes */
  gsize scanned; /* lines: bytes after start known to hold no LF */
};

TfstSyslogFraming *
tfst_syslog_framing_new(void)
{
  TfstSyslogFraming *f = g_new0(TfstSyslogFraming, 1);

  f->cap = FRAMING_INITIAL;
  f->buf = g_malloc(f->cap);
  return f;
}

void
tfst_syslog_framing_free(TfstSyslogFraming *f)
{
  if (f == NULL)
    return;
  g_free(f->buf);
  g_free(f);
}

/* Moving the unparsed tail to the front happens only after an event was
 * taken from before it, so every byte is moved at most once: a sender
 * that trickles a large event byte by byte costs no quadratic copying. */
guint8 *
tfst_syslog_framing_space(TfstSyslogFraming *f, gsize *out_len)
{
  if (f->start > 0) {
    memmove(f->buf, f->buf + f->start, f->end - f->start);
    f->end -= f->start;
    f->start = 0;
  }
  if (f->end == f->cap && f->cap < TFST_SYSLOG_FRAMING_BUF) {
    f->cap = MIN(f->cap * 2, (gsize)TFST_SYSLOG_FRAMING_BUF);
    f->buf = g_realloc(f->buf, f->cap);
  }
  *out_len = f->cap - f->end;
  return f->buf + f->end;
}

void
tfst_syslog_framing_commit(TfstSyslogFraming *f, gsize len)
{
  g_return_if_fail(len <= f->cap - f->end);
  f->end += len;
}

gsize
tfst_syslog_framing_feed(TfstSyslogFraming *f, const guint8 *data, gsize len)
{
  gsize room;
  guint8 *p = tfst_syslog_framing_space(f, &room);
  gsize n = MIN(room, len);

  memcpy(p, data, n);
  tfst_syslog_framing_commit(f, n);
  return n;
}

static TfstSyslogFramingResult
take(TfstSyslogFraming *f, gsize offset, gsize len, gsize consumed, const guint8 **out_data,
     gsize *out_len)
{
  *out_data = f->buf + f->start + offset;
  *out_len = len;
  f->start += consumed;
  f->scanned = 0;
  return TFST_SYSLOG_FRAMING_EVENT;
}

static TfstSyslogFramingResult
lose(TfstSyslogFraming *f, TfstSyslogFramingResult why)
{
  f->lost = TRUE;
  f->start = f->end = 0;
  return why;
}

/* "MSG-LEN SP MSG": MSG-LEN is NONZERO-DIGIT *DIGIT (RFC 6587 3.4.1).  A
 * count above TFST_EVENT_MAX is known as such by its sixth digit at the
 * latest, so the header never needs more than six bytes. */
static TfstSyslogFramingResult
next_counted(TfstSyslogFraming *f, const guint8 **out_data, gsize *out_len)
{
  const guint8 *p = f->buf + f->start;
  gsize avail = f->end - f->start;
  guint32 count = 0;
  gsize i;

  for (i = 0; i < avail; i++) {
    if (p[i] == ' ' && i > 0)
      break;
    if (!g_ascii_isdigit(p[i]) || (i == 0 && p[i] == '0'))
      return lose(f, TFST_SYSLOG_FRAMING_LOST);
    count = count * 10 + (guint32)(p[i] - '0');
    if (count > TFST_EVENT_MAX)
      return lose(f, TFST_SYSLOG_FRAMING_OVERSIZE);
  }
  if (i == avail || avail - (i + 1) < count)
    return TFST_SYSLOG_FRAMING_NONE;
  return take(f, i + 1, count, i + 1 + count, out_data, out_len);
}

/* Drops bytes up to and including the LF that ends an oversize line;
 * FALSE while it has not come yet. */
static gboolean
skip_oversize(TfstSyslogFraming *f)
{
  const guint8 *nl = memchr(f->buf + f->start, '\n', f->end - f->start);

  if (nl == NULL) {
    f->start = f->end;
    return FALSE;
  }
  f->start = (gsize)(nl - f->buf) + 1;
  f->skipping = FALSE;
  return TRUE;
}

static TfstSyslogFramingResult
next_line(TfstSyslogFraming *f, const guint8 **out_data, gsize *out_len)
{
  const guint8 *p;
  const guint8 *nl;
  gsize len;

  if (f->skipping && !skip_oversize(f))
    return TFST_SYSLOG_FRAMING_NONE;
  p = f->buf + f->start;
  nl = memchr(p + f->scanned, '\n', f->end - f->start - f->scanned);
  if (nl == NULL) {
    f->scanned = f->end - f->start;
    if (f->scanned <= TFST_EVENT_MAX)
      return TFST_SYSLOG_FRAMING_NONE;
    /* No LF within the longest event: whatever follows is oversize. */
    f->skipping = TRUE;
    f->start = f->end;
    f->scanned = 0;
    return TFST_SYSLOG_FRAMING_OVERSIZE;
  }
  len = (gsize)(nl - p);
  take(f, 0, len, len + 1, out_data, out_len);
  if (len == 0)
    return TFST_SYSLOG_FRAMING_EMPTY;
  return len > TFST_EVENT_MAX ? TFST_SYSLOG_FRAMING_OVERSIZE : TFST_SYSLOG_FRAMING_EVENT;
}

TfstSyslogFramingResult
tfst_syslog_framing_next(TfstSyslogFraming *f, const guint8 **out_data, gsize *out_len)
{
  if (f->lost)
    return TFST_SYSLOG_FRAMING_LOST;
  if (f->start == f->end)
    return TFST_SYSLOG_FRAMING_NONE;
  if (f->mode == TFST_SYSLOG_FRAMING_DETECT)
    f->mode = f->buf[f->start] >= '1' && f->buf[f->start] <= '9' ? TFST_SYSLOG_FRAMING_OCTET
                                                                 : TFST_SYSLOG_FRAMING_LINES;
  if (f->mode == TFST_SYSLOG_FRAMING_OCTET)
    return next_counted(f, out_data, out_len);
  return next_line(f, out_data, out_len);
}

TfstSyslogFramingResult
tfst_syslog_framing_finish(TfstSyslogFraming *f, const guint8 **out_data, gsize *out_len)
{
  gsize pending = f->end - f->start;

  if (f->lost || pending == 0)
    return TFST_SYSLOG_FRAMING_NONE;
  if (f->mode == TFST_SYSLOG_FRAMING_OCTET) {
    f->start = f->end;
    return TFST_SYSLOG_FRAMING_TRUNCATED;
  }
  if (f->skipping) {
    f->start = f->end;
    return TFST_SYSLOG_FRAMING_NONE;
  }
  /* _next() returned NONE, so the line is at most TFST_EVENT_MAX long. */
  return take(f, 0, pending, pending, out_data, out_len);
}

TfstSyslogFramingMode
tfst_syslog_framing_mode(const TfstSyslogFraming *f)
{
  return f->mode;
}

gboolean
tfst_syslog_framing_lost(const TfstSyslogFraming *f)
{
  return f->lost;
}

gsize
tfst_syslog_framing_buffered(const TfstSyslogFraming *f)
{
  return f->end - f->start;
}

gsize
tfst_syslog_framing_capacity(const TfstSyslogFraming *f)
{
  return f->cap;
}
