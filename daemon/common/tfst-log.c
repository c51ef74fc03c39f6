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
  tfst_log_set_level(log, level);
}

void
tfst_log_set_level(TfstLog *log, guint level)
{
  g_atomic_int_set(&log->level, (gint)MIN(level, 3u));
}

/* LogLevel 0 keeps errors, 1 adds warnings and notices (handshakes, chain
 * changes), 2 adds per-session info, 3 adds debug. */
gboolean
tfst_log_enabled(const TfstLog *log, int priority)
{
  static const int max_prio[] = {LOG_ERR, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

  return priority <= max_prio[g_atomic_int_get(&log->level)];
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
  g_ptr_array_add(items, g_strdup("SYSLOG_IDENTIFIER=tfstd"));
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
log_emit(const TfstLog *log, int priority, const TfstLogFields *fields, const char *msg)
{
  static const TfstLogFields none = {0};

  if (fields == NULL)
    fields = &none;
  if (log->journal) {
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
