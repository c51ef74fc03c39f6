/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-label.h"

gboolean
tfst_label_is_valid(const char *label)
{
  gsize n = 0;

  if (label == NULL)
    return FALSE;
  for (const char *c = label; *c != '\0'; c++, n++) {
    if (!g_ascii_isalnum(*c) && *c != '.' && *c != '_' && *c != '-')
      return FALSE;
  }
  return n > 0 && n <= TFST_LABEL_MAX;
}
