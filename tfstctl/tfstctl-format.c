/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Human-readable values (see tfstctl-format.h). */
#include "tfstctl-format.h"

#include <glib/gi18n.h>
#include <string.h>

/* The units of durations, largest first; the symbols are systemd's and
 * not translated (systemctl does not either). */
static const struct {
  const char *symbol;
  guint64 usec;
} duration_units[] = {
    {"d", G_GUINT64_CONSTANT(86400) * G_USEC_PER_SEC},
    {"h", G_GUINT64_CONSTANT(3600) * G_USEC_PER_SEC},
    {"min", G_GUINT64_CONSTANT(60) * G_USEC_PER_SEC},
    {"s", G_USEC_PER_SEC},
    {"ms", 1000},
};

char *
tfstctl_format_duration(guint64 usec)
{
  GString *s = g_string_new(NULL);
  guint shown = 0;

  for (guint i = 0; i < G_N_ELEMENTS(duration_units) && shown < 2; i++) {
    guint64 n = usec / duration_units[i].usec;

    /* Milliseconds only below a second: "1min 0s" never says "3ms". */
    if (n == 0 || (g_str_equal(duration_units[i].symbol, "ms") && s->len > 0))
      continue;
    g_string_append_printf(s, "%s%" G_GUINT64_FORMAT "%s", s->len > 0 ? " " : "", n,
                           duration_units[i].symbol);
    usec -= n * duration_units[i].usec;
    shown++;
  }
  if (s->len == 0)
    g_string_append(s, "0s");
  return g_string_free(s, FALSE);
}

char *
tfstctl_format_time_relative(guint64 usec)
{
  gint64 now = g_get_real_time();
  g_autofree char *span = NULL;

  if (usec == 0)
    return g_strdup("-");
  /* Under a second either way reads as now, as the clock of the instance
   * and of tfstctl are read at slightly different moments. */
  if ((gint64)usec > now - G_USEC_PER_SEC && (gint64)usec < now + G_USEC_PER_SEC)
    return g_strdup(_("now"));
  /* Whole seconds: "12s ago", not "12s 345ms ago". */
  if ((gint64)usec <= now) {
    span = tfstctl_format_seconds((guint64)now - usec);
    /* TRANSLATORS: a point in time; %s is a duration such as "3min 12s". */
    return g_strdup_printf(_("%s ago"), span);
  }
  span = tfstctl_format_seconds(usec - (guint64)now);
  /* TRANSLATORS: a point in time to come; %s is a duration such as "5s". */
  return g_strdup_printf(_("in %s"), span);
}

char *
tfstctl_format_time(guint64 usec)
{
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *relative = NULL;

  if (usec == 0)
    return g_strdup(_("never"));
  dt = g_date_time_new_from_unix_local((gint64)(usec / G_USEC_PER_SEC));
  if (dt == NULL)
    return g_strdup_printf("@%" G_GUINT64_FORMAT, usec);
  absolute = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %Z");
  relative = tfstctl_format_time_relative(usec);
  return g_strdup_printf("%s; %s", absolute, relative);
}

char *
tfstctl_format_bytes(guint64 bytes)
{
  return g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
}

char *
tfstctl_format_rate(guint64 bytes, guint seconds)
{
  g_autofree char *size = tfstctl_format_bytes(bytes / MAX(seconds, 1));

  /* TRANSLATORS: a data rate, %s is an amount of data such as "1.5 KiB". */
  return g_strdup_printf(_("%s/s"), size);
}

char *
tfstctl_format_seconds(guint64 usec)
{
  return tfstctl_format_duration(usec - usec % G_USEC_PER_SEC);
}

char *
tfstctl_format_rtt(guint64 usec)
{
  if (usec == 0)
    return g_strdup("-");
  /* In the locale's number format: this is for people. */
  return g_strdup_printf("%.1f ms", (double)usec / 1000.0);
}

char *
tfstctl_format_endpoint(const char *address, guint16 port)
{
  if (address == NULL || *address == '\0')
    return g_strdup_printf("*:%u", port);
  if (strchr(address, ':') != NULL)
    return g_strdup_printf("[%s]:%u", address, port);
  return g_strdup_printf("%s:%u", address, port);
}
