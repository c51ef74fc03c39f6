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
/* libnl's error codes (negative as returned, or positive NLE_*): the
 * message is "FORMAT: nl_geterror() text". */
void tfst_error_from_nl(GError **error, int nlerr, const char *format, ...) G_GNUC_PRINTF(3, 4);
/* GnuTLS's negative codes: the message is "FORMAT: gnutls_strerror()". */
void tfst_error_from_gnutls(GError **error, int rc, const char *format, ...) G_GNUC_PRINTF(3, 4);
