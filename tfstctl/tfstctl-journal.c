/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The journal of an instance (see tfstctl-journal.h). */
#include "tfstctl-journal.h"

#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

/* The user of tfst-role@.service (User=, units/tfst.sysusers). */
#define TFST_USER "tfst"

typedef sd_journal TfstctlJournal;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstctlJournal, sd_journal_close)

/* A field's value (not NUL-terminated in the journal), "" if missing. */
static char *
field(sd_journal *j, const char *name)
{
  const void *data = NULL;
  size_t len = 0, prefix = strlen(name) + 1;

  if (sd_journal_get_data(j, name, &data, &len) < 0 || len < prefix)
    return g_strdup("");
  return g_utf8_make_valid((const char *)data + prefix, (gssize)(len - prefix));
}

/* The writers whose tfstd entries outside a unit count: the fields
 * SYSLOG_IDENTIFIER, TFST_ROLE and TFST_INSTANCE are the sender's to
 * choose, _UID is journald's.  Root, the user the units run tfstd as
 * (units/tfst-role@.service.in) and whoever runs tfstctl (tfstd started
 * by hand, as the tests do): nobody else can make entries look like an
 * instance's. */
static gboolean
add_trusted_uids(sd_journal *j)
{
  struct passwd *pw = getpwnam(TFST_USER);
  uid_t uids[] = {0, pw != NULL ? pw->pw_uid : 0, getuid()};

  for (guint i = 0; i < G_N_ELEMENTS(uids); i++) {
    g_autofree char *m = g_strdup_printf("_UID=%u", (unsigned)uids[i]);

    if (sd_journal_add_match(j, m, 0) < 0)
      return FALSE;
  }
  return TRUE;
}

/* ROLE@INSTANCE's unit, its tfstd entries outside a unit, and systemd's
 * own entries about the unit (started, failed, reloaded). */
static gboolean
add_matches(sd_journal *j, const char *instance)
{
  g_auto(GStrv) parts = g_strsplit(instance, "@", 2);
  g_autofree char *unit = NULL, *unit_m = NULL, *sd_unit_m = NULL, *role_m = NULL, *inst_m = NULL;

  if (g_strv_length(parts) != 2)
    return FALSE;
  unit = g_strdup_printf("tfst-%s@%s.service", parts[0], parts[1]);
  unit_m = g_strconcat("_SYSTEMD_UNIT=", unit, NULL);
  sd_unit_m = g_strconcat("UNIT=", unit, NULL);
  role_m = g_strconcat("TFST_ROLE=", parts[0], NULL);
  inst_m = g_strconcat("TFST_INSTANCE=", parts[1], NULL);
  return sd_journal_add_match(j, unit_m, 0) >= 0 && sd_journal_add_disjunction(j) >= 0 &&
         sd_journal_add_match(j, "SYSLOG_IDENTIFIER=tfstd", 0) >= 0 &&
         sd_journal_add_match(j, role_m, 0) >= 0 && sd_journal_add_match(j, inst_m, 0) >= 0 &&
         add_trusted_uids(j) && sd_journal_add_disjunction(j) >= 0 &&
         sd_journal_add_match(j, "_PID=1", 0) >= 0 && sd_journal_add_match(j, sd_unit_m, 0) >= 0;
}

static sd_journal *
open_instance(const char *instance)
{
  g_autoptr(TfstctlJournal) j = NULL;

  /* The system journal only: a user's own journal holds what that user
   * sent, whatever the fields say. */
  if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM) < 0 ||
      !add_matches(j, instance))
    return NULL;
  return g_steal_pointer(&j);
}

/* "tfstd[42]: message", as journalctl prints the part after the time. */
static char *
entry_text(sd_journal *j)
{
  g_autofree char *syslog_ident = field(j, "SYSLOG_IDENTIFIER");
  g_autofree char *comm = field(j, "_COMM");
  g_autofree char *pid = field(j, "_PID");
  g_autofree char *host = field(j, "_HOSTNAME");
  g_autofree char *message = field(j, "MESSAGE");
  const char *ident = *syslog_ident != '\0' ? syslog_ident : comm;

  return g_strdup_printf("%s %s%s%s%s: %s", host, ident, *pid != '\0' ? "[" : "", pid,
                         *pid != '\0' ? "]" : "", message);
}

static char *
entry_line(sd_journal *j, const char *time_format)
{
  guint64 usec = 0;
  g_autoptr(GDateTime) t = NULL;
  g_autofree char *when = NULL, *text = entry_text(j);

  (void)sd_journal_get_realtime_usec(j, &usec);
  t = g_date_time_new_from_unix_local((gint64)(usec / G_USEC_PER_SEC));
  when = t != NULL ? g_date_time_format(t, time_format) : g_strdup("-");
  return g_strdup_printf("%s %s", when, text);
}

static void
reverse(GPtrArray *a)
{
  for (guint i = 0, k = a->len; i + 1 < k; i++, k--) {
    gpointer t = a->pdata[i];

    a->pdata[i] = a->pdata[k - 1];
    a->pdata[k - 1] = t;
  }
}

/* The last `max` entries from the current position backwards, oldest
 * first (read newest first, reversed once). */
static GPtrArray *
last_entries(sd_journal *j, guint max, guint64 since_usec, const char *time_format)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; i < max && sd_journal_previous(j) > 0; i++) {
    guint64 usec = 0;

    if (sd_journal_get_realtime_usec(j, &usec) >= 0 && usec < since_usec)
      break;
    g_ptr_array_add(lines, entry_line(j, time_format));
  }
  reverse(lines);
  return lines;
}

GPtrArray *
tfstctl_journal_lines(const char *instance, guint n)
{
  g_autoptr(TfstctlJournal) j = n > 0 ? open_instance(instance) : NULL;

  if (j == NULL || sd_journal_seek_tail(j) < 0)
    return g_ptr_array_new_with_free_func(g_free);
  return last_entries(j, n, 0, "%b %d %H:%M:%S");
}

GPtrArray *
tfstctl_journal_export(const char *instance, guint64 since_usec, guint max)
{
  g_autoptr(TfstctlJournal) j = open_instance(instance);

  if (j == NULL || sd_journal_seek_tail(j) < 0)
    return g_ptr_array_new_with_free_func(g_free);
  return last_entries(j, max, since_usec, "%Y-%m-%dT%H:%M:%S%z");
}
