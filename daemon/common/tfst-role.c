/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-role.h"

const char *
tfst_role_to_string(TfstRole role)
{
  switch (role) {
    case TFST_ROLE_EPPROXY:
      return "epproxy";
    case TFST_ROLE_GWPROXY:
      return "gwproxy";
    case TFST_ROLE_RELAY:
      return "relay";
    case TFST_ROLE_NONE:
      break;
  }
  return "none";
}

TfstRole
tfst_role_from_string(const char *s)
{
  if (g_strcmp0(s, "epproxy") == 0)
    return TFST_ROLE_EPPROXY;
  if (g_strcmp0(s, "gwproxy") == 0)
    return TFST_ROLE_GWPROXY;
  if (g_strcmp0(s, "relay") == 0)
    return TFST_ROLE_RELAY;
  return TFST_ROLE_NONE;
}

gboolean
tfst_role_is_valid(TfstRole role)
{
  return role == TFST_ROLE_EPPROXY || role == TFST_ROLE_GWPROXY || role == TFST_ROLE_RELAY;
}
