/* SPDX-License-Identifier: GPL-2.0-or-later */
/* RFC 6587 framing of syslog over TCP, as a pure parser: no I/O.  The
 * framing is detected from a connection's first byte: a digit 1-9 starts
 * octet counting ("MSG-LEN SP MSG", MSG-LEN without leading zeros, at most
 * TFST_EVENT_MAX), anything else means newline-terminated events ("MSG
 * LF").  Events are opaque bytes: only the LF terminator is taken away (a
 * CR before it stays part of the event).
 *
 * The parser owns its buffer, which never grows beyond
 * TFST_SYSLOG_FRAMING_BUF bytes whatever a sender does.  The caller reads
 * into tfst_syslog_framing_space(), says how much with _commit(), then
 * calls _next() until it returns TFST_SYSLOG_FRAMING_NONE.  At end of
 * stream, _finish() yields an unterminated last line as an event (senders
 * often omit the final LF) or reports an unfinished octet-counted event as
 * truncated. */
#pragma once

#include "tfst-config.h"

#include <glib.h>

/* The longest octet-counted frame ("65536 " and the event) fits, and so
 * does a line of TFST_EVENT_MAX bytes with its LF. */
#define TFST_SYSLOG_FRAMING_BUF (TFST_EVENT_MAX + 8u)

typedef struct TfstSyslogFraming TfstSyslogFraming;

typedef enum {
  TFST_SYSLOG_FRAMING_DETECT, /* no byte seen yet */
  TFST_SYSLOG_FRAMING_OCTET,  /* octet counting */
  TFST_SYSLOG_FRAMING_LINES,  /* newline-terminated */
} TfstSyslogFramingMode;

typedef enum {
  TFST_SYSLOG_FRAMING_NONE,      /* nothing more in what was committed */
  TFST_SYSLOG_FRAMING_EVENT,     /* an event: 1 ... TFST_EVENT_MAX bytes */
  TFST_SYSLOG_FRAMING_EMPTY,     /* an empty line, skipped */
  TFST_SYSLOG_FRAMING_OVERSIZE,  /* a line or a count above TFST_EVENT_MAX */
  TFST_SYSLOG_FRAMING_LOST,      /* not a count where one must be */
  TFST_SYSLOG_FRAMING_TRUNCATED, /* end of stream inside an octet-counted event */
} TfstSyslogFramingResult;

TfstSyslogFraming *tfst_syslog_framing_new(void);
void tfst_syslog_framing_free(TfstSyslogFraming *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstSyslogFraming, tfst_syslog_framing_free)

/* Where the next bytes go, and how many fit (at least one while the
 * framing is not lost and _next() was called until NONE).  Moves buffered
 * bytes: events returned before are no longer valid. */
guint8 *tfst_syslog_framing_space(TfstSyslogFraming *f, gsize *out_len);
/* `len` bytes were written at tfst_syslog_framing_space(). */
void tfst_syslog_framing_commit(TfstSyslogFraming *f, gsize len);
/* Copies as much of data as fits (space + commit); returns how much. */
gsize tfst_syslog_framing_feed(TfstSyslogFraming *f, const guint8 *data, gsize len);

/* The next result from the committed bytes.  An event (*out_data,
 * *out_len) points into the parser's buffer and stays valid until the next
 * call to _space() or _feed().  Oversize lines are skipped up to their LF
 * and parsing goes on; an oversize count or LOST loses the framing for good
 * (tfst_syslog_framing_lost(), every later call returns LOST): the caller
 * closes the connection. */
TfstSyslogFramingResult tfst_syslog_framing_next(TfstSyslogFraming *f, const guint8 **out_data,
                                                 gsize *out_len);
/* End of stream, after _next() returned NONE: EVENT (an unterminated last
 * line), TRUNCATED (an unfinished octet-counted event, or its count), or
 * NONE.  Once only: the buffered bytes are gone afterwards. */
TfstSyslogFramingResult tfst_syslog_framing_finish(TfstSyslogFraming *f, const guint8 **out_data,
                                                   gsize *out_len);

TfstSyslogFramingMode tfst_syslog_framing_mode(const TfstSyslogFraming *f);
gboolean tfst_syslog_framing_lost(const TfstSyslogFraming *f);
/* Bytes committed and not yet parsed away, and the buffer's current size
 * (it starts small and grows up to TFST_SYSLOG_FRAMING_BUF). */
gsize tfst_syslog_framing_buffered(const TfstSyslogFraming *f);
gsize tfst_syslog_framing_capacity(const TfstSyslogFraming *f);
