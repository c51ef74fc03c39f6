#include "tfst-log.h"

#include <stdio.h>
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

void
tfst_log_full(const TfstLog *log, int priority, const TfstLogFields *fields, const char *format,
              ...)
{
  static const TfstLogFields none = {0};
  g_autofree char *msg = NULL;
  va_list ap;

  if (!tfst_log_enabled(log, priority))
    return;
  if (fields == NULL)
    fields = &none;
  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);

  if (log->journal) {
    g_autofree char *session =
        fields->session ? g_strdup_printf("%" G_GUINT64_FORMAT, fields->session) : NULL;
    g_autofree char *err = fields->err ? g_strdup_printf("%d", fields->err) : NULL;
    sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=tfstd",
                    "TFST_ROLE=%s", log->role, "TFST_INSTANCE=%s", log->instance, "TFST_LABEL=%s",
                    log->label, "MESSAGE_ID=%s", fields->message_id ? fields->message_id : "",
                    "TFST_PEER_LABEL=%s", fields->peer_label ? fields->peer_label : "",
                    "TFST_SESSION=%s", session ? session : "", "TFST_ERRNO=%s", err ? err : "",
                    NULL);
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
