/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TLS on the hops (GnuTLS): credentials built on the control plane from
 * the configuration's settings (tfst-tls-conf.h), shared read-only with the data plane by
 * reference, and the per-hop session driven from the hop's sd-event callback.
 *
 * Label binding: a certificate names tfst labels in its subjectAltName,
 * either as a dNSName equal to the label ("relay1") or as a URI
 * "tfst:label:relay1" (for labels that are not host names, e.g. with '_').
 * In PSK mode the client's PSK identity is its label.  The label a peer
 * announces in HELLO/IAM must be one its certificate (or identity) names. */
#pragma once

#include "tfst-config.h"
#include "tfst-log.h"
#include "tfst-tls-conf.h"

#include <gio/gio.h>

#define TFST_TLS_LABEL_URI_PREFIX "tfst:label:"
/* Expiry warnings start this many days before a certificate expires. */
#define TFST_TLS_EXPIRY_WARN_DAYS 30
/* A TrustedCA= directory is read whole at each load: bounded like a file
 * (each file is also capped at TFST_FILE_MAX).  /etc/ssl/certs holds a few
 * hundred entries and about 1 MiB. */
#define TFST_TLS_CA_DIR_MAX_ENTRIES 4096
#define TFST_TLS_CA_DIR_MAX_BYTES   (16 * 1024 * 1024)

typedef struct TfstTls TfstTls;

/* The key of the section the problem is about, for the
 * "FILE:LINE: [Section] Key=: reason" errors of tfst_tls_creds_load(). */
typedef enum {
  TFST_TLS_KEY_CERTIFICATE,
  TFST_TLS_KEY_KEY,
  TFST_TLS_KEY_TRUSTED_CA,
  TFST_TLS_KEY_PSK_FILE,
  TFST_TLS_KEY_PRIORITY,
} TfstTlsKey;

/* Builds the credentials of every hop with TLS=yes (hop->tls.creds), on the
 * control plane: at start and at each reload, before the configuration is
 * used.  Errors are TFST_ERROR_CONFIG and read like the loader's,
 * "FILE:LINE: [Section] Key=: reason". */
gboolean tfst_tls_creds_load(TfstConfig *config, GError **error);
/* Loads the files and checks the priority string; `server`: this side
 * accepts the hop (Listen=).  `own_label` must be named by our own
 * certificate (and have a key in the PSK file for a client).  On error
 * *out_key says which key it is about. */
TfstTlsCreds *tfst_tls_creds_new(const TfstTlsConf *conf, gboolean server, const char *own_label,
                                 TfstTlsKey *out_key, GError **error);
TfstTlsCreds *tfst_tls_creds_ref(TfstTlsCreds *creds);
void tfst_tls_creds_unref(TfstTlsCreds *creds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstTlsCreds, tfst_tls_creds_unref)
/* "subject=..., issuer=..., expires=..." of our own certificate, or
 * "PSK identity LABEL"; never NULL. */
const char *tfst_tls_creds_describe(const TfstTlsCreds *creds);
/* Seconds since the epoch when our certificate expires; 0 in PSK mode. */
gint64 tfst_tls_creds_expires(const TfstTlsCreds *creds);
/* Our side: the labels our certificate names (our label in PSK mode),
 * its subject and issuer ("" in PSK mode) and expiry (0 in PSK mode). */
void tfst_tls_creds_info(const TfstTlsCreds *creds, const char **out_labels,
                         const char **out_subject, const char **out_issuer, gint64 *out_expires);
/* Journal warning (TFST_MSGID_TLS_EXPIRY) when our certificate expires
 * within TFST_TLS_EXPIRY_WARN_DAYS or has expired; `section` names it. */
void tfst_tls_creds_check_expiry(const TfstTlsCreds *creds, const char *section,
                                 const TfstLog *log);

/* ---- the data plane: one per hop ---- */

TfstTls *tfst_tls_new(TfstTlsCreds *creds, gboolean client, int fd, GBytes *resume, GError **error);
void tfst_tls_free(TfstTls *tls);

typedef enum {
  TFST_TLS_HS_DONE,
  TFST_TLS_HS_AGAIN,
  TFST_TLS_HS_FAILED,
} TfstTlsHandshake;

/* Advances the handshake.  AGAIN: wait for *out_events (EPOLLIN or
 * EPOLLOUT).  FAILED: *out_why says why (freed by the caller).  DONE also
 * means the peer's certificate was verified and names an accepted label. */
TfstTlsHandshake tfst_tls_handshake(TfstTls *tls, guint32 *out_events, char **out_why);
/* Best effort before closing: a fatal access_denied alert tells the peer
 * it was refused (label checks after the handshake). */
void tfst_tls_deny(TfstTls *tls);
/* Bytes sent (0: would block), or -errno with tfst_tls_last_error(). */
gssize tfst_tls_send(TfstTls *tls, const guint8 *data, gsize len);
/* Bytes received, 0 at the end, -EAGAIN, -EINTR, or another -errno with
 * tfst_tls_last_error(). */
gssize tfst_tls_recv(TfstTls *tls, guint8 *buf, gsize len);
/* Decrypted bytes GnuTLS holds that epoll cannot announce. */
gboolean tfst_tls_pending(TfstTls *tls);
const char *tfst_tls_last_error(const TfstTls *tls);
/* Whether `label` (from HELLO) is one the peer's certificate names and
 * PeerLabel= accepts. */
gboolean tfst_tls_label_ok(const TfstTls *tls, const char *label);
/* Labels the peer's certificate names, comma separated. */
const char *tfst_tls_peer_labels(const TfstTls *tls);
/* One line for the journal: version, cipher, peer certificate, resumed,
 * kernel TLS. */
const char *tfst_tls_describe(const TfstTls *tls);
gboolean tfst_tls_ktls(const TfstTls *tls);
/* Once DONE: GnuTLS's session description ("(TLS1.3)-(ECDHE-...)-..."), and
 * the peer certificate's subject, issuer and expiry ("", 0 in PSK mode). */
void tfst_tls_peer_info(const TfstTls *tls, const char **out_cipher, const char **out_subject,
                        const char **out_issuer, gint64 *out_expires);
/* Client: the data to resume this session on the next connect, NULL
 * when the server sent no ticket. */
GBytes *tfst_tls_resume_data(TfstTls *tls);
TfstTlsCreds *tfst_tls_creds(const TfstTls *tls);
