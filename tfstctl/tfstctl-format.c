/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Human-readable values (see tfstctl-format.h). */
#include "tfstctl-format.h"

#include <glib/gi18n.h>
#include <string.h>

char *
tfstctl_format_time(guint64 usec)
{
  g_autoptr(GDateTime) dt = NULL;

  if (usec == 0)
    return g_strdup(_("never"));
  dt = g_date_time_new_from_unix_local((gint64)(usec / G_USEC_PER_SEC));
  if (dt == NULL)
    return g_strdup_printf("@%" G_GUINT64_FORMAT, usec);
  return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %Z");
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
  return g_strdup_printf("%" G_GUINT64_FORMAT "s", usec / G_USEC_PER_SEC);
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
