/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A linear byte buffer with a read offset, used for hop and session output.
 * Memory is released when a buffer drains, so idle sessions cost nothing. */
#pragma once

#include <glib.h>

typedef struct {
  guint8 *data;
  gsize cap;
  gsize head;
  gsize tail;
} TfstBuf;

static inline gsize
tfst_buf_len(const TfstBuf *b)
{
  return b->tail - b->head;
}

static inline const guint8 *
tfst_buf_peek(const TfstBuf *b)
{
  return b->data + b->head;
}

/* Returns room for n more bytes at the tail; tfst_buf_commit() makes them
 * part of the buffer. */
guint8 *tfst_buf_reserve(TfstBuf *b, gsize n);
void tfst_buf_commit(TfstBuf *b, gsize n);
void tfst_buf_append(TfstBuf *b, const void *data, gsize n);
void tfst_buf_consume(TfstBuf *b, gsize n);
void tfst_buf_clear(TfstBuf *b);
/* Sends as much as the socket takes: bytes sent (0 when it would block), or
 * -errno on a real error. */
gssize tfst_buf_send(TfstBuf *b, int fd);
