/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Option values in the syntax of the configuration (tfst-parse.h): time
 * spans such as "5s", "1min 30s" or "90" (seconds), sizes such as "1M" or
 * "65536".  Errors are TFSTCTL_ERROR_USAGE and name the option. */
#pragma once

#include <glib.h>

/* A time span in whole seconds, min-max; *out is written on success. */
gboolean tfstctl_values_parse_seconds(const char *option, const char *text, guint min, guint max,
                                      guint *out, GError **error);
/* A size in bytes, min-max; *out is written on success. */
gboolean tfstctl_values_parse_size(const char *option, const char *text, guint64 min, guint64 max,
                                   guint64 *out, GError **error);
/* text is one of the NULL-terminated `allowed` words (a filter value the
 * man page lists); else the error lists them. */
gboolean tfstctl_values_check_word(const char *option, const char *text, const char *const *allowed,
                                   GError **error);
