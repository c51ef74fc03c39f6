/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-ratelimit.h"

gboolean
tfst_ratelimit_pass(TfstRatelimit *rl, gint64 now_us, guint *out_suppressed)
{
  if (rl->window_start_us == 0 || now_us - rl->window_start_us >= rl->interval_us ||
      now_us < rl->window_start_us) {
    rl->window_start_us = now_us;
    rl->passed = 0;
  }
  if (rl->passed >= rl->burst) {
    rl->suppressed++;
    return FALSE;
  }
  rl->passed++;
  if (out_suppressed != NULL)
    *out_suppressed = rl->suppressed;
  rl->suppressed = 0;
  return TRUE;
}
