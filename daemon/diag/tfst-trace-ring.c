/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-trace-ring.h"

#include <string.h>

struct TfstTraceRing {
  guint8 *buf;
  gsize size;
  gsize head; /* where the next record starts */
  gsize tail; /* where the oldest record starts */
  gsize used;
  guint count;
};

/* The record header, stored as raw bytes (records are not aligned). */
typedef struct {
  gint64 time_us;
  guint32 captured;
  guint32 wire_length;
} Record;

G_STATIC_ASSERT(sizeof(Record) == TFST_TRACE_RECORD_HEADER);

TfstTraceRing *
tfst_trace_ring_new(gsize size)
{
  g_autoptr(TfstTraceRing) ring = g_new0(TfstTraceRing, 1);

  g_return_val_if_fail(size > TFST_TRACE_RECORD_HEADER, NULL);
  /* Untouched pages of a large allocation cost nothing until captured into. */
  ring->buf = g_try_malloc(size);
  if (ring->buf == NULL)
    return NULL;
  ring->size = size;
  return g_steal_pointer(&ring);
}

void
tfst_trace_ring_free(TfstTraceRing *ring)
{
  if (ring == NULL)
    return;
  g_free(ring->buf);
  g_free(ring);
}

/* Records run across the end of the buffer: copy in up to two pieces. */
static gsize
ring_write(TfstTraceRing *ring, gsize at, const void *src, gsize n)
{
  gsize first = MIN(n, ring->size - at);

  memcpy(ring->buf + at, src, first);
  memcpy(ring->buf, (const guint8 *)src + first, n - first);
  return (at + n) % ring->size;
}

static gsize
ring_read(const TfstTraceRing *ring, gsize at, void *dst, gsize n)
{
  gsize first = MIN(n, ring->size - at);

  memcpy(dst, ring->buf + at, first);
  memcpy((guint8 *)dst + first, ring->buf, n - first);
  return (at + n) % ring->size;
}

static void
drop_oldest(TfstTraceRing *ring)
{
  Record r;
  gsize cost;

  ring_read(ring, ring->tail, &r, sizeof(r));
  cost = sizeof(r) + r.captured;
  ring->tail = (ring->tail + cost) % ring->size;
  ring->used -= cost;
  ring->count--;
}

gboolean
tfst_trace_ring_push(TfstTraceRing *ring, gint64 time_us, guint32 wire_length, const guint8 *data,
                     guint32 captured, gboolean wrap)
{
  Record r = {.time_us = time_us, .captured = captured, .wire_length = wire_length};
  gsize cost = sizeof(r) + captured;

  if (cost > ring->size)
    return FALSE;
  if (ring->size - ring->used < cost && !wrap)
    return FALSE;
  while (ring->size - ring->used < cost)
    drop_oldest(ring);
  ring->head = ring_write(ring, ring->head, &r, sizeof(r));
  ring->head = ring_write(ring, ring->head, data, captured);
  ring->used += cost;
  ring->count++;
  return TRUE;
}

gsize
tfst_trace_ring_size(const TfstTraceRing *ring)
{
  return ring->size;
}

gsize
tfst_trace_ring_used(const TfstTraceRing *ring)
{
  return ring->used;
}

guint
tfst_trace_ring_count(const TfstTraceRing *ring)
{
  return ring->count;
}

void
tfst_trace_ring_foreach(const TfstTraceRing *ring, TfstTraceRingFunc func, gpointer user_data)
{
  g_autofree guint8 *data = NULL;
  gsize data_size = 0;
  gsize at = ring->tail;

  for (guint i = 0; i < ring->count; i++) {
    Record r;

    at = ring_read(ring, at, &r, sizeof(r));
    if (r.captured > data_size) {
      data_size = r.captured;
      g_free(data);
      data = g_malloc(data_size);
    }
    at = ring_read(ring, at, data, r.captured);
    func(r.time_us, r.wire_length, data, r.captured, user_data);
  }
}
