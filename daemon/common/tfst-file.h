/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading the files a configuration names (the configuration itself, its
 * drop-ins, certificates, keys, CA and PSK files): regular files only, and
 * never more than a cap, because a path can name a FIFO (whose open or read
 * blocks the control plane until someone writes), a device such as
 * /dev/zero (which never ends) or a log file that grew. */
#pragma once

#include <glib.h>

/* Far larger than any real configuration, certificate chain or PSK file. */
#define TFST_FILE_MAX (1024 * 1024)

/* Reads the regular file `path` whole: at most `max` bytes, NUL-terminated
 * (the NUL is not counted in *out_len, which may be NULL).  Errors are
 * G_FILE_ERROR with a bare reason ("is a FIFO, not a regular file"), so
 * that callers can tell G_FILE_ERROR_NOENT apart and name the file and the
 * key themselves; a directory is G_FILE_ERROR_ISDIR. */
char *tfst_file_read(const char *path, gsize max, gsize *out_len,
                     GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* What kind of file a st_mode names, for messages ("a FIFO"). */
const char *tfst_file_kind(unsigned int mode);
