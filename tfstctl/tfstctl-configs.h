/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configured instances as the files name them, without the bus:
 * SYSCONFDIR/tfst/ROLE@INSTANCE.conf (TFST_CONFIG_DIR instead, as for
 * tfst-generator).  For tfstctl check and cat. */
#pragma once

#include "tfst-role.h"

#include <glib.h>

/* The directory of the main configuration files. */
const char *tfstctl_configs_dir(void);

/* "ROLE@INSTANCE" (also "ROLE@INSTANCE.conf", the file's name) split into
 * the role and the instance; a usage error (TFSTCTL_ERROR_USAGE) naming
 * `name` otherwise.  *out_* are written only on success. */
gboolean tfstctl_configs_parse_name(const char *name, TfstRole *out_role, char **out_instance,
                                    GError **error);

/* The sorted "ROLE@INSTANCE" names of the main files in the directory
 * whose name matches the shell pattern `pattern` (NULL: all).  A missing
 * directory has none; one that cannot be read is TFSTCTL_ERROR_FAILED. */
GPtrArray *tfstctl_configs_list(const char *pattern, GError **error);
