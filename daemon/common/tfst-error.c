/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-error.h"

#include <string.h>

static const GDBusErrorEntry tfst_error_entries[] = {
    {TFST_ERROR_FAILED, "org.tfst.Tfst1.Error.Failed"},
    {TFST_ERROR_CONFIG, "org.tfst.Tfst1.Error.Config"},
    {TFST_ERROR_PROTOCOL, "org.tfst.Tfst1.Error.Protocol"},
    {TFST_ERROR_ADDRESS, "org.tfst.Tfst1.Error.Address"},
    {TFST_ERROR_BIND, "org.tfst.Tfst1.Error.Bind"},
    {TFST_ERROR_CONNECT, "org.tfst.Tfst1.Error.Connect"},
    {TFST_ERROR_NOT_SUPPORTED, "org.tfst.Tfst1.Error.NotSupported"},
    {TFST_ERROR_INVALID_ARGS, "org.tfst.Tfst1.Error.InvalidArgs"},
    {TFST_ERROR_NOT_FOUND, "org.tfst.Tfst1.Error.NotFound"},
};

GQuark
tfst_error_quark(void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain("tfst-error-quark", &quark, tfst_error_entries,
                                     G_N_ELEMENTS(tfst_error_entries));
  return (GQuark)quark;
}

void
tfst_error_set_with_cause(GError **error, int code, const char *cause, const char *format,
                          va_list ap)
{
  g_autofree char *msg = g_strdup_vprintf(format, ap);

  g_set_error(error, TFST_ERROR, code, "%s: %s", msg, cause);
}

static int
code_from_errno(int errnum)
{
  switch (errnum) {
    case EADDRINUSE:
    case EACCES:
    case EADDRNOTAVAIL:
      return TFST_ERROR_BIND;
    case ECONNREFUSED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return TFST_ERROR_CONNECT;
    case EINVAL:
      return TFST_ERROR_INVALID_ARGS;
    default:
      return TFST_ERROR_FAILED;
  }
}

void
tfst_error_from_errno(GError **error, int errnum, const char *format, ...)
{
  va_list ap;

  va_start(ap, format);
  tfst_error_set_with_cause(error, code_from_errno(errnum), g_strerror(errnum), format, ap);
  va_end(ap);
}

/* Printable characters stay (labels and addresses read as typed); the
 * quotes and backslash are escaped so that the quoted text cannot appear
 * to end early. */
static gboolean
quote_keeps(gunichar c)
{
  return c != '\\' && c != '\'' && c != '"' && g_unichar_isprint(c) &&
         g_unichar_type(c) != G_UNICODE_FORMAT;
}

static void
append_escaped(GString *out, const char *p, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_string_append_printf(out, "\\x%02x", (guint8)p[i]);
}

char *
tfst_error_quote_arg(const char *arg)
{
  GString *out;
  const char *p = arg;

  if (arg == NULL)
    return g_strdup("(null)");
  out = g_string_sized_new(MIN(strlen(arg), 4 * TFST_ERROR_QUOTE_MAX) + 8);
  for (guint n = 0; *p != '\0'; n++) {
    gunichar c = g_utf8_get_char_validated(p, -1);
    gsize len = c < (gunichar)-2 ? (gsize)g_unichar_to_utf8(c, NULL) : 1;

    if (n == TFST_ERROR_QUOTE_MAX) {
      g_string_append(out, "…");
      break;
    }
    if (c < (gunichar)-2 && quote_keeps(c))
      g_string_append_len(out, p, len);
    else
      append_escaped(out, p, len);
    p += len;
  }
  return g_string_free(out, FALSE);
}
