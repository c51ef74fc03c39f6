/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Option values as the configuration writes them (see tfstctl-values.h). */
#include "tfstctl-values.h"

#include "tfst-parse.h"
#include "tfstctl-bus.h"
#include "tfstctl-format.h"

#include <glib/gi18n.h>

gboolean
tfstctl_values_parse_seconds(const char *option, const char *text, guint min, guint max, guint *out,
                             GError **error)
{
  g_autofree char *lo = tfstctl_format_duration((guint64)min * G_USEC_PER_SEC);
  g_autofree char *hi = tfstctl_format_duration((guint64)max * G_USEC_PER_SEC);
  guint ms = 0;

  if (tfst_parse_timespan_ms(text, &ms) && ms % 1000 == 0 && ms / 1000 >= min && ms / 1000 <= max) {
    *out = ms / 1000;
    return TRUE;
  }
  /* TRANSLATORS: "--interval takes a time span of whole seconds, 1s-1h,
   * such as 5s or 2min, not “x”" */
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
              _("%s takes a time span of whole seconds, %s-%s, such as 5s or 2min, not “%s”"),
              option, lo, hi, text);
  return FALSE;
}

gboolean
tfstctl_values_parse_size(const char *option, const char *text, guint64 min, guint64 max,
                          guint64 *out, GError **error)
{
  g_autofree char *lo = tfstctl_format_bytes(min);
  g_autofree char *hi = tfstctl_format_bytes(max);
  guint64 size = 0;

  if (tfst_parse_size64(text, &size) && size >= min && size <= max) {
    *out = size;
    return TRUE;
  }
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
              _("%s takes a size, %s-%s, such as 64K or 1M, not “%s”"), option, lo, hi, text);
  return FALSE;
}

gboolean
tfstctl_values_check_word(const char *option, const char *text, const char *const *allowed,
                          GError **error)
{
  g_autofree char *list = NULL;

  if (g_strv_contains(allowed, text))
    return TRUE;
  list = g_strjoinv(", ", (char **)allowed);
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("%s takes one of %s, not “%s”"), option,
              list, text);
  return FALSE;
}
