/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfstctl-pattern.h"

#include <fnmatch.h>
#include <string.h>

gboolean
tfstctl_pattern_is(const char *instance)
{
  return instance != NULL && strpbrk(instance, "*?[") != NULL;
}

gboolean
tfstctl_pattern_match(const char *pattern, const char *name)
{
  return pattern == NULL || fnmatch(pattern, name, 0) == 0;
}
