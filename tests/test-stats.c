/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Failures by errno: a peer choosing the errno of every OPEN_FAIL or RST
 * must not grow the table, nor GetStatistics' reply. */
#include "tfst-engine-private.h"

#include <errno.h>

static guint64
errno_count(GVariant *reply, const char *name)
{
  g_autoptr(GVariant) counters = g_variant_get_child_value(reply, 0);
  g_autoptr(GVariant) by_errno =
      g_variant_lookup_value(counters, "SessionsFailedByErrno", G_VARIANT_TYPE("a{st}"));
  guint64 n = 0;

  g_assert_nonnull(by_errno);
  return g_variant_lookup(by_errno, name, "t", &n) ? n : 0;
}

/* One session that fails while opening, with `err`. */
static void
fail_one(TfstEngine *e, int err)
{
  TfstSession s = {.engine = e, .state = TFST_SESSION_OPENING};

  tfst_counters_session_ended(&s, err, NULL);
}

static void
test_errno_bounded(void)
{
  TfstEngine e = {0};
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) counters = NULL;
  g_autoptr(GVariant) by_errno = NULL;

  tfst_counters_init(&e);
  for (guint32 v = 0; v < 1000000; v++)
    fail_one(&e, (int)(v * 2654435761u)); /* a million values all over the u32 range */
  for (int i = 0; i < 3; i++)
    fail_one(&e, ECONNREFUSED);
  reply = tfst_inspect_get_statistics(&e, NULL, NULL);
  counters = g_variant_get_child_value(reply, 0);
  by_errno = g_variant_lookup_value(counters, "SessionsFailedByErrno", G_VARIANT_TYPE("a{st}"));
  g_assert_cmpuint(g_variant_n_children(by_errno), <=, TFST_ERRNO_SLOTS);
  g_assert_cmpuint(g_variant_get_size(reply), <, 16 * 1024);
  g_assert_cmpuint(errno_count(reply, "ECONNREFUSED"), >=, 3);
  g_assert_cmpuint(errno_count(reply, "other"), >, 990000);
  tfst_counters_free(&e);
}

static void
test_errno_known(void)
{
  g_assert_false(tfst_counters_errno_is_known(0));
  g_assert_true(tfst_counters_errno_is_known(EPERM));
  g_assert_true(tfst_counters_errno_is_known(ECONNRESET));
  g_assert_true(tfst_counters_errno_is_known(EHWPOISON));
  g_assert_false(tfst_counters_errno_is_known(EHWPOISON + 1));
  g_assert_false(tfst_counters_errno_is_known(0x80000000u));
  g_assert_false(tfst_counters_errno_is_known(G_MAXUINT32));
}

static void
test_clear(void)
{
  TfstEngine e = {0};
  g_autoptr(GVariant) before = NULL;
  g_autoptr(GVariant) after = NULL;

  tfst_counters_init(&e);
  fail_one(&e, ETIMEDOUT);
  before = tfst_inspect_get_statistics(&e, NULL, NULL);
  g_assert_cmpuint(errno_count(before, "ETIMEDOUT"), ==, 1);
  tfst_counters_clear(&e);
  after = tfst_inspect_get_statistics(&e, NULL, NULL);
  g_assert_cmpuint(errno_count(after, "ETIMEDOUT"), ==, 0);
  tfst_counters_free(&e);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/stats/errno-bounded", test_errno_bounded);
  g_test_add_func("/tfst/stats/errno-known", test_errno_known);
  g_test_add_func("/tfst/stats/clear", test_clear);
  return g_test_run();
}
