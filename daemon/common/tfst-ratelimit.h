/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A token window for anything a peer can trigger (journal lines, bus
 * signals): at most `burst` events per `interval_us`, and a count of what
 * was held back so the next line can say "N similar messages suppressed".
 * Not thread-safe: each owner keeps its own on its own thread. */
#pragma once

#include <glib.h>

typedef struct {
  gint64 interval_us;
  guint burst;
  gint64 window_start_us;
  guint passed;     /* events let through in this window */
  guint suppressed; /* held back since the last event let through */
} TfstRatelimit;

#define TFST_RATELIMIT_INIT(interval_us_, burst_)                                                  \
  {                                                                                                \
    .interval_us = (interval_us_), .burst = (burst_)                                               \
  }

/* TRUE when an event at `now_us` may pass; `*out_suppressed` (optional)
 * then receives the number held back before it, and the count restarts. */
gboolean tfst_ratelimit_pass(TfstRatelimit *rl, gint64 now_us, guint *out_suppressed);
