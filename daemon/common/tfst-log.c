/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-log.h"

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

void
tfst_log_init(TfstLog *log, const char *role, const char *instance, const char *label, guint level)
{
  log->role = role;
  log->instance = instance;
  log->label = label;
  log->journal = g_log_writer_is_journald(fileno(stderr));
  tfst_log_set_target(log, TFST_LOG_TARGET_AUTO);
  tfst_log_set_level(log, level);
}

/* Indexed by syslog priority. */
static const char *const priority_names[] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};
static const char *const target_names[] = {
    [TFST_LOG_TARGET_AUTO] = "auto",
    [TFST_LOG_TARGET_JOURNAL] = "journal",
    [TFST_LOG_TARGET_CONSOLE] = "console",
    [TFST_LOG_TARGET_NULL] = "null",
};

/* LogLevel 0 keeps errors, 1 adds warnings and notices (handshakes, chain
 * changes), 2 adds per-session info, 3 adds debug. */
int
tfst_log_level_to_priority(guint level)
{
  static const int max_prio[] = {LOG_ERR, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

  return max_prio[MIN(level, 3u)];
}

void
tfst_log_set_level(TfstLog *log, guint level)
{
  tfst_log_set_max_priority(log, tfst_log_level_to_priority(level));
}

guint
tfst_log_get_level(const TfstLog *log)
{
  int prio = tfst_log_get_max_priority(log);

  if (prio <= LOG_ERR)
    return 0;
  return prio <= LOG_NOTICE ? 1 : (guint)(prio - LOG_NOTICE + 1);
}

void
tfst_log_set_max_priority(TfstLog *log, int priority)
{
  g_atomic_int_set(&log->max_priority, CLAMP(priority, LOG_EMERG, LOG_DEBUG));
}

int
tfst_log_get_max_priority(const TfstLog *log)
{
  return g_atomic_int_get(&log->max_priority);
}

int
tfst_log_priority_from_string(const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(priority_names); i++)
    if (g_strcmp0(name, priority_names[i]) == 0)
      return (int)i;
  return -1;
}

const char *
tfst_log_priority_to_string(int priority)
{
  return priority_names[CLAMP(priority, LOG_EMERG, LOG_DEBUG)];
}

void
tfst_log_set_target(TfstLog *log, TfstLogTarget target)
{
  g_atomic_int_set(&log->target, (gint)target);
}

TfstLogTarget
tfst_log_get_target(const TfstLog *log)
{
  return (TfstLogTarget)g_atomic_int_get(&log->target);
}

gboolean
tfst_log_target_from_string(const char *name, TfstLogTarget *out_target)
{
  for (gsize i = 0; i < G_N_ELEMENTS(target_names); i++)
    if (g_strcmp0(name, target_names[i]) == 0) {
      *out_target = (TfstLogTarget)i;
      return TRUE;
    }
  return FALSE;
}

const char *
tfst_log_target_to_string(TfstLogTarget target)
{
  return target < G_N_ELEMENTS(target_names) ? target_names[target] : "auto";
}

gboolean
tfst_log_enabled(const TfstLog *log, int priority)
{
  return priority <= tfst_log_get_max_priority(log) &&
         tfst_log_get_target(log) != TFST_LOG_TARGET_NULL;
}

/* Only the fields that apply are sent, so `journalctl -o verbose` shows no
 * empty TFST_* noise. */
static void
journal_send(const TfstLog *log, int priority, const TfstLogFields *fields, const char *msg)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
  g_autofree struct iovec *iov = NULL;

  g_ptr_array_add(items, g_strdup_printf("MESSAGE=%s", msg));
  g_ptr_array_add(items, g_strdup_printf("PRIORITY=%d", priority));
  g_ptr_array_add(items, g_strdup("SYSLOG_IDENTIFIER=" TFST_LOG_SYSLOG_IDENTIFIER));
  g_ptr_array_add(items, g_strdup_printf("TFST_ROLE=%s", log->role));
  g_ptr_array_add(items, g_strdup_printf("TFST_INSTANCE=%s", log->instance));
  g_ptr_array_add(items, g_strdup_printf("TFST_LABEL=%s", log->label));
  if (fields->message_id != NULL)
    g_ptr_array_add(items, g_strdup_printf("MESSAGE_ID=%s", fields->message_id));
  if (fields->peer_label != NULL)
    g_ptr_array_add(items, g_strdup_printf("TFST_PEER_LABEL=%s", fields->peer_label));
  if (fields->session != 0)
    g_ptr_array_add(items, g_strdup_printf("TFST_SESSION=%" G_GUINT64_FORMAT, fields->session));
  /* The journal's standard field (systemd.journal-fields(7)), so
   * `journalctl ERRNO=111` finds tfst's refusals beside everyone else's. */
  if (fields->err != 0)
    g_ptr_array_add(items, g_strdup_printf("ERRNO=%d", fields->err));
  iov = g_new0(struct iovec, items->len);
  for (guint i = 0; i < items->len; i++) {
    iov[i].iov_base = g_ptr_array_index(items, i);
    iov[i].iov_len = strlen(iov[i].iov_base);
  }
  (void)sd_journal_sendv(iov, (int)items->len);
}

static void
log_emit_to(const TfstLog *log, TfstLogTarget target, int priority, const TfstLogFields *fields,
            const char *msg)
{
  static const TfstLogFields none = {0};

  if (target == TFST_LOG_TARGET_NULL)
    return;
  if (fields == NULL)
    fields = &none;
  if (target == TFST_LOG_TARGET_JOURNAL || (target == TFST_LOG_TARGET_AUTO && log->journal)) {
    journal_send(log, priority, fields, msg);
    return;
  }
  /* One write per line so lines from two threads never interleave. */
  {
    static const char *const names[] = {"EMERG",   "ALERT",  "CRIT", "ERROR",
                                        "WARNING", "NOTICE", "INFO", "DEBUG"};
    g_autofree char *line = g_strdup_printf("tfstd[%s@%s] %s: %s\n", log->role, log->instance,
                                            names[priority & 7], msg);
    fputs(line, stderr);
  }
}

static void
log_emit(const TfstLog *log, int priority, const TfstLogFields *fields, const char *msg)
{
  log_emit_to(log, tfst_log_get_target(log), priority, fields, msg);
}

void
tfst_log_change(const TfstLog *log, TfstLogTarget target, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  log_emit_to(log, target, LOG_NOTICE, NULL, msg);
}

void
tfst_log_full(const TfstLog *log, int priority, const TfstLogFields *fields, const char *format,
              ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  if (!tfst_log_enabled(log, priority))
    return;
  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  log_emit(log, priority, fields, msg);
}

void
tfst_log_limited(const TfstLog *log, TfstRatelimit *rl, int priority, const TfstLogFields *fields,
                 const char *format, ...)
{
  g_autofree char *msg = NULL;
  guint suppressed = 0;
  va_list ap;

  /* Checked first: a line below the log level costs no formatting and
   * does not use up the window. */
  if (!tfst_log_enabled(log, priority) ||
      !tfst_ratelimit_pass(rl, g_get_monotonic_time(), &suppressed))
    return;
  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (suppressed > 0) {
    g_autofree char *with = g_strdup_printf("%s (%u similar messages suppressed)", msg, suppressed);
    log_emit(log, priority, fields, with);
    return;
  }
  log_emit(log, priority, fields, msg);
}
