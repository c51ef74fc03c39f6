/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-ratelimit.h"

static void
test_burst_then_suppress(void)
{
  TfstRatelimit rl = TFST_RATELIMIT_INIT(10 * G_USEC_PER_SEC, 3);
  guint suppressed = 99;

  for (int i = 0; i < 3; i++) {
    g_assert_true(tfst_ratelimit_pass(&rl, 1000 + i, &suppressed));
    g_assert_cmpuint(suppressed, ==, 0);
  }
  for (int i = 0; i < 1000; i++)
    g_assert_false(tfst_ratelimit_pass(&rl, 2000 + i, NULL));
  /* The next window lets the next event through, saying how many were held. */
  g_assert_true(tfst_ratelimit_pass(&rl, 1000 + 10 * G_USEC_PER_SEC, &suppressed));
  g_assert_cmpuint(suppressed, ==, 1000);
  g_assert_true(tfst_ratelimit_pass(&rl, 1001 + 10 * G_USEC_PER_SEC, &suppressed));
  g_assert_cmpuint(suppressed, ==, 0);
}

static void
test_clock_backwards(void)
{
  TfstRatelimit rl = TFST_RATELIMIT_INIT(G_USEC_PER_SEC, 1);

  g_assert_true(tfst_ratelimit_pass(&rl, 5 * G_USEC_PER_SEC, NULL));
  g_assert_false(tfst_ratelimit_pass(&rl, 5 * G_USEC_PER_SEC, NULL));
  /* A clock that jumped back starts a new window rather than blocking
   * until it catches up. */
  g_assert_true(tfst_ratelimit_pass(&rl, G_USEC_PER_SEC, NULL));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/ratelimit/burst-then-suppress", test_burst_then_suppress);
  g_test_add_func("/tfst/ratelimit/clock-backwards", test_clock_backwards);
  return g_test_run();
}
