/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-buf.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

guint8 *
tfst_buf_reserve(TfstBuf *b, gsize n)
{
  gsize len = tfst_buf_len(b);

  if (b->cap - b->tail >= n)
    return b->data + b->tail;
  /* Slide the unread bytes down before growing: an output buffer that is
   * written in bursts would otherwise creep upward forever. */
  if (b->head > 0) {
    memmove(b->data, b->data + b->head, len);
    b->head = 0;
    b->tail = len;
    if (b->cap - b->tail >= n)
      return b->data + b->tail;
  }
  b->cap = MAX(MAX(b->cap * 2, len + n), 4096);
  b->data = g_realloc(b->data, b->cap);
  return b->data + b->tail;
}

void
tfst_buf_commit(TfstBuf *b, gsize n)
{
  g_assert(b->tail + n <= b->cap);
  b->tail += n;
}

void
tfst_buf_append(TfstBuf *b, const void *data, gsize n)
{
  memcpy(tfst_buf_reserve(b, n), data, n);
  b->tail += n;
}

void
tfst_buf_consume(TfstBuf *b, gsize n)
{
  g_assert(n <= tfst_buf_len(b));
  b->head += n;
  if (b->head == b->tail)
    b->head = b->tail = 0;
}

void
tfst_buf_clear(TfstBuf *b)
{
  g_clear_pointer(&b->data, g_free);
  b->cap = b->head = b->tail = 0;
}

gssize
tfst_buf_send(TfstBuf *b, int fd)
{
  gsize sent = 0;

  while (tfst_buf_len(b) > 0) {
    ssize_t n = send(fd, tfst_buf_peek(b), tfst_buf_len(b), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        break;
      return -errno;
    }
    tfst_buf_consume(b, n);
    sent += n;
  }
  return (gssize)sent;
}
