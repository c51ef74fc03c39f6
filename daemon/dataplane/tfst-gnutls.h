/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GnuTLS in the data plane (tfst-tls.c): its error codes as GError, and
 * g_auto() for its handles, which are pointer typedefs already. */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* GnuTLS's negative codes: the message is "FORMAT: gnutls_strerror()". */
void tfst_gnutls_error(GError **error, int rc, const char *format, ...) G_GNUC_PRINTF(3, 4);

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_session_t, gnutls_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_certificate_credentials_t,
                                gnutls_certificate_free_credentials, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_priority_t, gnutls_priority_deinit, NULL)
