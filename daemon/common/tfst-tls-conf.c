/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-tls-conf.h"

void
tfst_tls_conf_clear(TfstTlsConf *conf)
{
  g_clear_pointer(&conf->certificate, g_free);
  g_clear_pointer(&conf->key, g_free);
  g_clear_pointer(&conf->trusted_ca, g_free);
  g_clear_pointer(&conf->psk_file, g_free);
  g_clear_pointer(&conf->priority, g_free);
  g_clear_pointer(&conf->peer_labels, g_strfreev);
  if (conf->creds != NULL)
    conf->creds_free(g_steal_pointer(&conf->creds));
}
