/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>

#define TFST_ERROR (tfst_error_quark())

/* Each code maps to org.tfst.Tfst1.Error.<Name> on the bus. */
typedef enum {
  TFST_ERROR_FAILED = 0,
  TFST_ERROR_CONFIG,
  TFST_ERROR_PROTOCOL,
  TFST_ERROR_ADDRESS,
  TFST_ERROR_BIND,
  TFST_ERROR_CONNECT,
  TFST_ERROR_NOT_SUPPORTED,
  TFST_ERROR_INVALID_ARGS,
  TFST_ERROR_NOT_FOUND,
} TfstError;

GQuark tfst_error_quark(void);
void tfst_error_from_errno(GError **error, int errnum, const char *format, ...) G_GNUC_PRINTF(3, 4);
/* "<what the caller was doing>: <the library's reason>": the one helper
 * per library (errno here, libnl in tfst-nl.h, GnuTLS in tfst-gnutls.h)
 * maps its codes and words its reason through this. */
void tfst_error_set_with_cause(GError **error, int code, const char *cause, const char *format,
                               va_list ap) G_GNUC_PRINTF(4, 0);

/* Longest part of a caller's argument an error message repeats. */
#define TFST_ERROR_QUOTE_MAX 64

/* A caller's argument (a D-Bus string, a name from a file) as an error
 * message may repeat it: at most TFST_ERROR_QUOTE_MAX characters, then
 * "…"; control and non-printable characters, backslash and quotes as \xNN
 * (per byte), so that a reply stays small and no raw control byte reaches a
 * terminal or the journal.  NULL reads "(null)".  Free with g_free(). */
char *tfst_error_quote_arg(const char *arg) G_GNUC_WARN_UNUSED_RESULT;
