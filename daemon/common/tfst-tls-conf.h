/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The TLS settings of a hop ([Parent] / [Children] TLS=, Certificate=,
 * ...), as the configuration loader parses them.  Only paths and words:
 * the loader reads no certificate, key or PSK file, so tfst-generator,
 * which loads the configuration at boot, never opens a private key.  The
 * data plane builds the credentials from these settings (tfst-tls.c,
 * tfst_tls_creds_load) before a configuration is used. */
#pragma once

#include <glib.h>

typedef struct TfstTlsCreds TfstTlsCreds;

typedef struct {
  gboolean enabled;   /* TLS=yes */
  char *certificate;  /* Certificate= */
  char *key;          /* Key= */
  char *trusted_ca;   /* TrustedCA= file or directory */
  char *psk_file;     /* PSKFile= */
  char *priority;     /* TLSPriority=, NULL: built from min_version */
  char **peer_labels; /* PeerLabel=, NULL: any label the certificate names */
  guint min_version;  /* TLSMinVersion= 12 or 13 */
  /* Built by the data plane when enabled, NULL until then.  It brings its
   * own release function because common/ cannot call up into the layer
   * that defines the type. */
  TfstTlsCreds *creds;
  GDestroyNotify creds_free;
} TfstTlsConf;

void tfst_tls_conf_clear(TfstTlsConf *conf);
