/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The delivering end's go-back-N state of one event stream (docs/protocol.md
 * §5): which sequence number comes next, what the target wrote.  Pure, so
 * tests/test-event-deliver.c checks every rule without sockets. */
#include "tfst-events.h"

/* A stream we never saw, or one whose spool was made afresh (a new epoch),
 * starts where its sender starts; a sender that dropped events by policy
 * (base above what we expect) moves us up to what it still holds. */
void
tfst_event_order_batch(TfstEventOrder *o, guint64 epoch, guint64 base)
{
  if (o->epoch != epoch) {
    o->epoch = epoch;
    o->next = base;
    o->acked = base - 1;
    return;
  }
  if (base > o->next)
    o->next = base;
}

TfstEventVerdict
tfst_event_order_verdict(const TfstEventOrder *o, guint64 seq)
{
  if (seq < o->next)
    return TFST_EVENT_DUPLICATE;
  return seq == o->next ? TFST_EVENT_TAKE : TFST_EVENT_GAP;
}

void
tfst_event_order_taken(TfstEventOrder *o)
{
  o->next++;
}

/* A write of an older epoch (queued before the sender's spool was made
 * afresh) acknowledges nothing of the new one. */
gboolean
tfst_event_order_written(TfstEventOrder *o, guint64 epoch, guint64 seq)
{
  if (epoch != o->epoch || seq <= o->acked || seq >= o->next)
    return FALSE;
  o->acked = seq;
  return TRUE;
}

void
tfst_event_order_lost(TfstEventOrder *o)
{
  o->next = o->acked + 1;
}
