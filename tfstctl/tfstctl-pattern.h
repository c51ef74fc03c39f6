/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -i PATTERN: one syntax for every command ("relay@*", "relay@[12]",
 * "*@main": fnmatch(3), as systemctl takes unit patterns). */
#pragma once

#include <glib.h>

/* A pattern rather than a name: contains *, ? or [. */
gboolean tfstctl_pattern_is(const char *instance);

/* Whether `name` matches `pattern`; NULL matches every name. */
gboolean tfstctl_pattern_match(const char *pattern, const char *name);
