/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-gnutls.h"

#include "tfst-error.h"

static int
code_from_gnutls(int rc)
{
  switch (rc) {
    case GNUTLS_E_FILE_ERROR:
    case GNUTLS_E_BASE64_DECODING_ERROR:
    case GNUTLS_E_ASN1_DER_ERROR:
    case GNUTLS_E_CERTIFICATE_KEY_MISMATCH:
    case GNUTLS_E_INVALID_REQUEST:
      return TFST_ERROR_CONFIG;
    case GNUTLS_E_UNIMPLEMENTED_FEATURE:
      return TFST_ERROR_NOT_SUPPORTED;
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
    case GNUTLS_E_UNEXPECTED_PACKET:
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
      return TFST_ERROR_PROTOCOL;
    default:
      return TFST_ERROR_FAILED;
  }
}

void
tfst_gnutls_error(GError **error, int rc, const char *format, ...)
{
  va_list ap;

  va_start(ap, format);
  tfst_error_set_with_cause(error, code_from_gnutls(rc), gnutls_strerror(rc), format, ap);
  va_end(ap);
}
