/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The three kinds of component (--role=, the unit names tfst-ROLE@.service,
 * the configuration file names ROLE@INSTANCE.conf). */
#pragma once

#include <glib.h>

typedef enum {
  TFST_ROLE_NONE = 0,
  TFST_ROLE_EPPROXY = 1,
  TFST_ROLE_GWPROXY = 2,
  TFST_ROLE_RELAY = 3,
} TfstRole;

/* "epproxy", "gwproxy", "relay"; "none" for anything else. */
const char *tfst_role_to_string(TfstRole role);
/* TFST_ROLE_NONE when s names no role. */
TfstRole tfst_role_from_string(const char *s);
gboolean tfst_role_is_valid(TfstRole role);
