/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-syslog-framing.h"

#include <string.h>

/* What the parser made of a stream, in one comparable string: "E<len>:"
 * and the bytes for an event, one letter for anything else (m empty, O
 * oversize, L lost, T truncated). */
static void
log_result(GByteArray *log, TfstSyslogFramingResult r, const guint8 *data, gsize len)
{
  static const char letters[] = {'-', 'E', 'm', 'O', 'L', 'T'};
  g_autofree char *head = NULL;

  g_assert_cmpint(r, <, (int)sizeof(letters));
  if (r != TFST_SYSLOG_FRAMING_EVENT) {
    g_byte_array_append(log, (const guint8 *)&letters[r], 1);
    return;
  }
  g_assert_cmpuint(len, >=, 1);
  g_assert_cmpuint(len, <=, TFST_EVENT_MAX);
  head = g_strdup_printf("E%" G_GSIZE_FORMAT ":", len);
  g_byte_array_append(log, (const guint8 *)head, strlen(head));
  g_byte_array_append(log, data, len);
}

/* Takes every result from the committed bytes; FALSE once the framing is
 * lost. */
static gboolean
drain(TfstSyslogFraming *f, GByteArray *log)
{
  TfstSyslogFramingResult r;
  const guint8 *data = NULL;
  gsize len = 0;

  while ((r = tfst_syslog_framing_next(f, &data, &len)) != TFST_SYSLOG_FRAMING_NONE) {
    log_result(log, r, data, len);
    g_assert_cmpuint(tfst_syslog_framing_capacity(f), <=, TFST_SYSLOG_FRAMING_BUF);
    if (tfst_syslog_framing_lost(f))
      return FALSE;
  }
  return TRUE;
}

static void
feed_all(TfstSyslogFraming *f, GByteArray *log, const guint8 *data, gsize len)
{
  while (len > 0) {
    gsize n = tfst_syslog_framing_feed(f, data, len);

    g_assert_cmpuint(n, >, 0);
    data += n;
    len -= n;
    if (!drain(f, log))
      return;
  }
}

/* Parses `data` fed in chunks of at most `chunk` bytes, after a first
 * piece of `split` bytes, then ends the stream. */
static GByteArray *
parse(const void *data, gsize len, gsize split, gsize chunk)
{
  g_autoptr(TfstSyslogFraming) f = tfst_syslog_framing_new();
  g_autoptr(GByteArray) log = g_byte_array_new();
  const guint8 *p = data;
  const guint8 *ev = NULL;
  gsize ev_len = 0;
  TfstSyslogFramingResult r;

  feed_all(f, log, p, MIN(split, len));
  for (gsize off = MIN(split, len); off < len && !tfst_syslog_framing_lost(f); off += chunk)
    feed_all(f, log, p + off, MIN(chunk, len - off));
  if (!tfst_syslog_framing_lost(f)) {
    r = tfst_syslog_framing_finish(f, &ev, &ev_len);
    if (r != TFST_SYSLOG_FRAMING_NONE)
      log_result(log, r, ev, ev_len);
    g_assert_cmpint(tfst_syslog_framing_finish(f, &ev, &ev_len), ==, TFST_SYSLOG_FRAMING_NONE);
  }
  return g_steal_pointer(&log);
}

static void
assert_log(GByteArray *log, const void *expected, gsize expected_len)
{
  g_assert_cmpmem(log->data, log->len, expected, expected_len);
}

/* The same results whatever the first split and with one byte at a time. */
static void
check_every_split(const char *input, gsize input_len, const char *expected, gsize expected_len)
{
  for (gsize split = 0; split <= input_len; split++) {
    g_autoptr(GByteArray) whole = parse(input, input_len, split, input_len);

    assert_log(whole, expected, expected_len);
  }
  {
    g_autoptr(GByteArray) bytewise = parse(input, input_len, 0, 1);

    assert_log(bytewise, expected, expected_len);
  }
}

#define CHECK(input, expected)                                                                     \
  check_every_split((input), sizeof(input) - 1, (expected), sizeof(expected) - 1)

static void
test_octet(void)
{
  g_autoptr(TfstSyslogFraming) f = tfst_syslog_framing_new();

  g_assert_cmpint(tfst_syslog_framing_mode(f), ==, TFST_SYSLOG_FRAMING_DETECT);
  CHECK("5 hello3 abc1 x", "E5:helloE3:abcE1:x");
  /* The count covers everything, LF and spaces included. */
  CHECK("5 a b\nc10 <13>1 x\ny\n", "E5:a b\ncE10:<13>1 x\ny\n");
  tfst_syslog_framing_feed(f, (const guint8 *)"1", 1);
  g_assert_cmpint(tfst_syslog_framing_next(f, NULL, NULL), ==, TFST_SYSLOG_FRAMING_NONE);
  g_assert_cmpint(tfst_syslog_framing_mode(f), ==, TFST_SYSLOG_FRAMING_OCTET);
}

static void
test_lines(void)
{
  g_autoptr(TfstSyslogFraming) f = tfst_syslog_framing_new();

  /* A CR before the LF stays part of the event; the unterminated last
   * line is an event at the end of the stream. */
  CHECK("<13>a\nbb\r\n\n\nccc", "E5:<13>aE3:bb\rmmE3:ccc");
  CHECK("one\n", "E3:one");
  CHECK("\n", "m");
  CHECK("", "");
  /* "0" is not how a count starts: the connection sends lines. */
  CHECK("05 hello\n", "E8:05 hello");
  tfst_syslog_framing_feed(f, (const guint8 *)"<", 1);
  g_assert_cmpint(tfst_syslog_framing_next(f, NULL, NULL), ==, TFST_SYSLOG_FRAMING_NONE);
  g_assert_cmpint(tfst_syslog_framing_mode(f), ==, TFST_SYSLOG_FRAMING_LINES);
}

static void
test_binary(void)
{
  /* Bytes are opaque: NUL, 0xff, CR and a count's digits inside events. */
  CHECK("a\0b\xff\r\n\0\n", "E5:a\0b\xff\rE1:\0");
  CHECK("4 \0\n\xff"
        "12 \r\n",
        "E4:\0\n\xff"
        "1E2:\r\n");
}

static void
test_lost(void)
{
  /* A leading zero, junk, a missing space, a space first: the framing is
   * lost and nothing after it is parsed. */
  CHECK("5 hello05 hello", "E5:helloL");
  CHECK("3 abcx", "E3:abcL");
  CHECK("12a 012345678901", "L");
  CHECK("1 a b", "E1:aL");
  CHECK("2 ab\n3 abc", "E2:abL");
}

static void
test_huge_counts(void)
{
  /* The oversize count is known from its digits alone. */
  CHECK("65537 x", "O");
  CHECK("99999999999999999999999 x", "O");
  CHECK("1 a700000 ", "E1:aO");
  CHECK("18446744073709551617 ", "O");
}

static void
test_truncated(void)
{
  CHECK("10 abc", "T");
  CHECK("3 abc12", "E3:abcT");
  CHECK("3 abc12 ", "E3:abcT");
  CHECK("7", "T");
}

static GByteArray *
repeat(guint8 byte, gsize n)
{
  GByteArray *a = g_byte_array_sized_new((guint)n);

  g_byte_array_set_size(a, (guint)n);
  memset(a->data, byte, n);
  return a;
}

static void
append_str(GByteArray *a, const char *s)
{
  g_byte_array_append(a, (const guint8 *)s, strlen(s));
}

/* Feeds in chunks of 1 byte, of 4093 and whole, at a few split points
 * around the interesting boundaries. */
static void
check_big(GByteArray *input, GByteArray *expected)
{
  const gsize splits[] = {0, 1, 6, 4096, 65535, 65536, 65537, 65542, 65543, input->len};
  const gsize chunks[] = {1, 4093, input->len};

  for (guint i = 0; i < G_N_ELEMENTS(splits); i++) {
    g_autoptr(GByteArray) log = parse(input->data, input->len, splits[i], input->len);

    assert_log(log, expected->data, expected->len);
  }
  for (guint i = 0; i < G_N_ELEMENTS(chunks); i++) {
    g_autoptr(GByteArray) log = parse(input->data, input->len, 0, chunks[i]);

    assert_log(log, expected->data, expected->len);
  }
}

static void
test_max_line(void)
{
  g_autoptr(GByteArray) max = repeat('x', TFST_EVENT_MAX);
  g_autoptr(GByteArray) input = g_byte_array_new();
  g_autoptr(GByteArray) expected = g_byte_array_new();

  /* Exactly 64 KiB, then 64 KiB + 1 (skipped, the connection goes on),
   * then 64 KiB unterminated at the end. */
  g_byte_array_append(input, max->data, max->len);
  append_str(input, "\n");
  g_byte_array_append(input, max->data, max->len);
  append_str(input, "y\nafter\n");
  g_byte_array_append(input, max->data, max->len);
  append_str(expected, "E65536:");
  g_byte_array_append(expected, max->data, max->len);
  append_str(expected, "OE5:afterE65536:");
  g_byte_array_append(expected, max->data, max->len);
  check_big(input, expected);
}

static void
test_long_junk_line(void)
{
  g_autoptr(GByteArray) input = repeat('j', 300000);
  g_autoptr(GByteArray) tail = repeat('j', 200000);
  g_autoptr(GByteArray) expected = g_byte_array_new();

  /* Far more than the buffer without an LF: one oversize, then lines
   * again; an oversize line cut by the end of stream yields nothing more. */
  append_str(input, "\nnext\n");
  g_byte_array_append(input, tail->data, tail->len);
  append_str(expected, "OE4:nextO");
  check_big(input, expected);
}

static void
test_max_count(void)
{
  g_autoptr(GByteArray) max = repeat('\n', TFST_EVENT_MAX);
  g_autoptr(GByteArray) input = g_byte_array_new();
  g_autoptr(GByteArray) expected = g_byte_array_new();

  append_str(input, "65536 ");
  g_byte_array_append(input, max->data, max->len);
  append_str(input, "65536 ");
  g_byte_array_append(input, max->data, max->len);
  append_str(input, "2 ok65537 ");
  g_byte_array_append(input, max->data, max->len);
  for (int i = 0; i < 2; i++) {
    append_str(expected, "E65536:");
    g_byte_array_append(expected, max->data, max->len);
  }
  append_str(expected, "E2:okO");
  check_big(input, expected);
}

static void
test_space_never_empty(void)
{
  g_autoptr(TfstSyslogFraming) f = tfst_syslog_framing_new();
  g_autoptr(GByteArray) log = g_byte_array_new();
  g_autoptr(GByteArray) part = repeat('z', 1000);
  gsize room = 0;

  /* A count announcing the largest event, then its bytes trickling in:
   * there is always room for the next read, and the buffer stays bounded. */
  feed_all(f, log, (const guint8 *)"65536 ", 6);
  for (guint i = 0; i < 65; i++) {
    feed_all(f, log, part->data, part->len);
    g_assert_nonnull(tfst_syslog_framing_space(f, &room));
    g_assert_cmpuint(room, >=, 1);
  }
  g_assert_cmpuint(tfst_syslog_framing_buffered(f), ==, 65006);
  g_assert_cmpuint(tfst_syslog_framing_capacity(f), <=, TFST_SYSLOG_FRAMING_BUF);
  feed_all(f, log, part->data, 536);
  g_assert_cmpuint(log->len, ==, 7 + TFST_EVENT_MAX);
  g_assert_cmpuint(tfst_syslog_framing_buffered(f), ==, 0);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/syslog-framing/octet", test_octet);
  g_test_add_func("/tfst/syslog-framing/lines", test_lines);
  g_test_add_func("/tfst/syslog-framing/binary", test_binary);
  g_test_add_func("/tfst/syslog-framing/lost", test_lost);
  g_test_add_func("/tfst/syslog-framing/huge-counts", test_huge_counts);
  g_test_add_func("/tfst/syslog-framing/truncated", test_truncated);
  g_test_add_func("/tfst/syslog-framing/max-line", test_max_line);
  g_test_add_func("/tfst/syslog-framing/long-junk-line", test_long_junk_line);
  g_test_add_func("/tfst/syslog-framing/max-count", test_max_count);
  g_test_add_func("/tfst/syslog-framing/space-never-empty", test_space_never_empty);
  return g_test_run();
}
