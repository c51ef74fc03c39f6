/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The log level's two scales (syslog names as systemd's LogControl1 uses
 * them, 0-3 as the configuration does) and the log targets. */
#include "tfst-log.h"

static void
test_priority_names(void)
{
  static const char *const names[] = {"emerg",   "alert",  "crit", "err",
                                      "warning", "notice", "info", "debug"};

  for (int prio = LOG_EMERG; prio <= LOG_DEBUG; prio++) {
    g_assert_cmpstr(tfst_log_priority_to_string(prio), ==, names[prio]);
    g_assert_cmpint(tfst_log_priority_from_string(names[prio]), ==, prio);
  }
  /* Only systemd's names: no numbers (0-3 would be ambiguous), no case
   * folding, no abbreviations. */
  for (const char *const *bad =
           (const char *const[]){"0", "7", "DEBUG", "error", "warn", "", "debug ", NULL};
       *bad != NULL; bad++)
    g_assert_cmpint(tfst_log_priority_from_string(*bad), ==, -1);
  g_assert_cmpint(tfst_log_priority_from_string(NULL), ==, -1);
}

/* 0-3 sets err, notice, info, debug; a syslog level reads back as the step
 * that logs at least as much. */
static void
test_level_alias(void)
{
  static const guint alias_of[] = {0, 0, 0, 0, 1, 1, 2, 3};
  TfstLog log;

  tfst_log_init(&log, "relay", "t", "r", 0);
  for (guint level = 0; level <= 3; level++) {
    tfst_log_set_level(&log, level);
    g_assert_cmpint(tfst_log_get_max_priority(&log), ==, tfst_log_level_to_priority(level));
    g_assert_cmpuint(tfst_log_get_level(&log), ==, level);
  }
  g_assert_cmpint(tfst_log_level_to_priority(9), ==, LOG_DEBUG);
  for (int prio = LOG_EMERG; prio <= LOG_DEBUG; prio++) {
    tfst_log_set_max_priority(&log, prio);
    g_assert_cmpuint(tfst_log_get_level(&log), ==, alias_of[prio]);
    g_assert_true(tfst_log_enabled(&log, prio));
    g_assert_true(prio == LOG_DEBUG || !tfst_log_enabled(&log, prio + 1));
  }
}

static void
test_targets(void)
{
  static const char *const names[] = {"auto", "journal", "console", "null"};
  TfstLogTarget target = TFST_LOG_TARGET_CONSOLE;
  TfstLog log;

  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_assert_true(tfst_log_target_from_string(names[i], &target));
    g_assert_cmpstr(tfst_log_target_to_string(target), ==, names[i]);
  }
  g_assert_false(tfst_log_target_from_string("kmsg", &target));
  g_assert_false(tfst_log_target_from_string("syslog", &target));
  g_assert_cmpint(target, ==, TFST_LOG_TARGET_NULL); /* untouched on failure */

  /* null silences every priority, whatever the level. */
  tfst_log_init(&log, "relay", "t", "r", 3);
  g_assert_cmpint(tfst_log_get_target(&log), ==, TFST_LOG_TARGET_AUTO);
  tfst_log_set_target(&log, TFST_LOG_TARGET_NULL);
  g_assert_false(tfst_log_enabled(&log, LOG_EMERG));
  tfst_log_set_target(&log, TFST_LOG_TARGET_CONSOLE);
  g_assert_true(tfst_log_enabled(&log, LOG_DEBUG));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/log/priority-names", test_priority_names);
  g_test_add_func("/tfst/log/level-alias", test_level_alias);
  g_test_add_func("/tfst/log/targets", test_targets);
  return g_test_run();
}
