/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The delivering end's go-back-N state (daemon/dataplane/tfst-event-order.c):
 * every rule of docs/protocol.md §5 on its own, then a sender and this
 * receiver over a channel that loses, repeats and reorders batches, with
 * crashes of the target: what reaches the target is every event once, in
 * order (at-least-once only across a target loss), and the acknowledged
 * number never passes what was written. */
#include "tfst-events.h"

static void
test_new_stream(void)
{
  TfstEventOrder o = {0};

  tfst_event_order_batch(&o, 7, 5);
  g_assert_cmpuint(o.epoch, ==, 7);
  g_assert_cmpuint(o.next, ==, 5);
  g_assert_cmpuint(o.acked, ==, 4);
  g_assert_cmpint(tfst_event_order_verdict(&o, 4), ==, TFST_EVENT_DUPLICATE);
  g_assert_cmpint(tfst_event_order_verdict(&o, 5), ==, TFST_EVENT_TAKE);
  g_assert_cmpint(tfst_event_order_verdict(&o, 6), ==, TFST_EVENT_GAP);
}

static void
test_take_and_write(void)
{
  TfstEventOrder o = {0};

  tfst_event_order_batch(&o, 1, 1);
  tfst_event_order_taken(&o);
  tfst_event_order_taken(&o);
  g_assert_cmpuint(o.next, ==, 3);
  /* Written in order; a repeat or an unsent one acknowledges nothing. */
  g_assert_true(tfst_event_order_written(&o, 1, 1));
  g_assert_false(tfst_event_order_written(&o, 1, 1));
  g_assert_false(tfst_event_order_written(&o, 1, 3));
  g_assert_true(tfst_event_order_written(&o, 1, 2));
  g_assert_cmpuint(o.acked, ==, 2);
  g_assert_cmpint(tfst_event_order_verdict(&o, 2), ==, TFST_EVENT_DUPLICATE);
}

/* The sender dropped events by policy: base jumps, we follow. */
static void
test_base_moves_up(void)
{
  TfstEventOrder o = {0};

  tfst_event_order_batch(&o, 1, 1);
  tfst_event_order_taken(&o);
  tfst_event_order_batch(&o, 1, 10);
  g_assert_cmpuint(o.next, ==, 10);
  g_assert_cmpint(tfst_event_order_verdict(&o, 10), ==, TFST_EVENT_TAKE);
  /* A base below what we have changes nothing. */
  tfst_event_order_batch(&o, 1, 3);
  g_assert_cmpuint(o.next, ==, 10);
}

/* A spool made afresh numbers from 1 again: not duplicates. */
static void
test_new_epoch(void)
{
  TfstEventOrder o = {0};

  tfst_event_order_batch(&o, 1, 1);
  for (guint i = 0; i < 50; i++)
    tfst_event_order_taken(&o);
  g_assert_true(tfst_event_order_written(&o, 1, 50));
  tfst_event_order_batch(&o, 2, 1);
  g_assert_cmpuint(o.next, ==, 1);
  g_assert_cmpuint(o.acked, ==, 0);
  g_assert_cmpint(tfst_event_order_verdict(&o, 1), ==, TFST_EVENT_TAKE);
  /* A late write of the old epoch does not count for the new one. */
  tfst_event_order_taken(&o);
  g_assert_false(tfst_event_order_written(&o, 1, 1));
  g_assert_true(tfst_event_order_written(&o, 2, 1));
}

/* The target went down with events queued: they are expected again. */
static void
test_target_lost(void)
{
  TfstEventOrder o = {0};

  tfst_event_order_batch(&o, 1, 1);
  for (guint i = 0; i < 5; i++)
    tfst_event_order_taken(&o);
  g_assert_true(tfst_event_order_written(&o, 1, 2));
  tfst_event_order_lost(&o);
  g_assert_cmpuint(o.next, ==, 3);
  g_assert_cmpint(tfst_event_order_verdict(&o, 3), ==, TFST_EVENT_TAKE);
  g_assert_false(tfst_event_order_written(&o, 1, 4));
}

/* ---- a sender and this receiver over a bad channel ---- */

#define N_EVENTS 3000
#define WINDOW   64

typedef struct {
  guint64 acked; /* what the sender saw acknowledged */
  guint64 next;  /* what it sends next */
  guint64 base;  /* what it still holds */
  guint64 high;  /* the highest it ever sent */
  TfstEventOrder o;
  GArray *target; /* sequence numbers written, in order */
  GArray *queued; /* taken, not written yet */
} Sim;

static void
sim_receive(Sim *s, guint64 base, guint64 first, guint count)
{
  tfst_event_order_batch(&s->o, 1, base);
  for (guint64 seq = first; seq < first + count; seq++) {
    TfstEventVerdict v = tfst_event_order_verdict(&s->o, seq);
    if (v == TFST_EVENT_GAP)
      return;
    if (v == TFST_EVENT_TAKE) {
      g_array_append_val(s->queued, seq);
      tfst_event_order_taken(&s->o);
    }
  }
}

/* Writes what is queued, or loses all of it (a target reconnect). */
static void
sim_target(Sim *s)
{
  if (g_test_rand_int_range(0, 20) == 0) {
    g_array_set_size(s->queued, 0);
    tfst_event_order_lost(&s->o);
    return;
  }
  for (guint i = 0; i < s->queued->len; i++) {
    guint64 seq = g_array_index(s->queued, guint64, i);
    g_assert_true(tfst_event_order_written(&s->o, 1, seq));
    g_array_append_val(s->target, seq);
  }
  g_array_set_size(s->queued, 0);
}

static void
sim_round(Sim *s)
{
  guint count = MIN((guint64)g_test_rand_int_range(1, 16), N_EVENTS + 1 - s->next);

  if (count > 0 && s->next - s->acked - 1 < WINDOW && g_test_rand_int_range(0, 4) != 0)
    sim_receive(s, s->base, s->next, count); /* one batch in four is lost */
  s->next += count;
  s->high = MAX(s->high, s->next - 1);
  sim_target(s);
  /* The ack comes back (or is lost); no progress: go back. */
  if (g_test_rand_int_range(0, 3) != 0 && s->o.acked > s->acked) {
    g_assert_cmpuint(s->o.acked, <=, s->high);
    s->acked = s->o.acked;
    s->base = s->acked + 1;
    s->next = MAX(s->next, s->base);
  } else if (g_test_rand_int_range(0, 2) == 0) {
    s->next = s->acked + 1;
  }
}

static void
test_lossy_channel(void)
{
  Sim s = {.next = 1, .base = 1};
  guint rounds = 0;

  s.target = g_array_new(FALSE, FALSE, sizeof(guint64));
  s.queued = g_array_new(FALSE, FALSE, sizeof(guint64));
  while (s.acked < N_EVENTS) {
    g_assert_cmpuint(++rounds, <, 1000000);
    sim_round(&s);
  }
  /* Every event, in order; written twice only after a lost queue. */
  for (guint64 seq = 1, i = 0; seq <= N_EVENTS; seq++) {
    while (i < s.target->len && g_array_index(s.target, guint64, i) < seq)
      i++;
    g_assert_cmpuint(i, <, s.target->len);
    g_assert_cmpuint(g_array_index(s.target, guint64, i), ==, seq);
  }
  for (guint i = 1; i < s.target->len; i++)
    g_assert_cmpuint(g_array_index(s.target, guint64, i), >,
                     g_array_index(s.target, guint64, i - 1));
  g_array_unref(s.target);
  g_array_unref(s.queued);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/event-deliver/new-stream", test_new_stream);
  g_test_add_func("/tfst/event-deliver/take-and-write", test_take_and_write);
  g_test_add_func("/tfst/event-deliver/base-moves-up", test_base_moves_up);
  g_test_add_func("/tfst/event-deliver/new-epoch", test_new_epoch);
  g_test_add_func("/tfst/event-deliver/target-lost", test_target_lost);
  g_test_add_func("/tfst/event-deliver/lossy-channel", test_lossy_channel);
  return g_test_run();
}
