/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The on-disk format of the event spool (docs/events.md, "Spool format"):
 * the header of a segment file and of each record in it, little-endian,
 * each with a CRC-32C.  Pure functions, no I/O. */
#pragma once

#include <glib.h>

#define TFST_SPOOL_FORMAT_VERSION 1u
/* magic "TFSTSPL\n", version u32, epoch u64, first seq u64, crc u32 */
#define TFST_SPOOL_FORMAT_HEADER_LEN 32u
/* len u32, crc u32, seq u64, received_rt i64; then len bytes of data */
#define TFST_SPOOL_FORMAT_RECORD_LEN 24u

typedef struct {
  guint32 version;
  guint64 epoch;
  guint64 first_seq;
} TfstSpoolFormatHeader;

typedef struct {
  guint32 len;
  guint32 crc; /* over the record header (crc field excluded) and the data */
  guint64 seq;
  gint64 received_rt;
} TfstSpoolFormatRecord;

/* CRC-32C (Castagnoli), continuing from crc (0 to start). */
guint32 tfst_spool_format_crc32c(guint32 crc, const void *data, gsize len);

void tfst_spool_format_header_encode(const TfstSpoolFormatHeader *h,
                                     guint8 out[TFST_SPOOL_FORMAT_HEADER_LEN]);
/* 0, or -EBADMSG (no magic or bad checksum; *out untouched) or
 * -EPROTONOSUPPORT (a newer version; out->version is set). */
int tfst_spool_format_header_decode(const guint8 in[TFST_SPOOL_FORMAT_HEADER_LEN],
                                    TfstSpoolFormatHeader *out);

/* Encodes r with its crc computed over the header and data. */
void tfst_spool_format_record_encode(TfstSpoolFormatRecord *r, const guint8 *data,
                                     guint8 out[TFST_SPOOL_FORMAT_RECORD_LEN]);
void tfst_spool_format_record_decode(const guint8 in[TFST_SPOOL_FORMAT_RECORD_LEN],
                                     TfstSpoolFormatRecord *out);
/* Whether data (out->len bytes) matches the record's crc. */
gboolean tfst_spool_format_record_check(const TfstSpoolFormatRecord *r, const guint8 *data);
