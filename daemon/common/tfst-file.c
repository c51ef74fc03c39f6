/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bounded reading of regular files (see tfst-file.h). */
#include "tfst-file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
tfst_file_kind(unsigned int mode)
{
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "a regular file";
    case S_IFDIR:
      return "a directory";
    case S_IFIFO:
      return "a FIFO";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFSOCK:
      return "a socket";
    default:
      return "not a regular file";
  }
}

static void
set_errno_error(GError **error, int errnum)
{
  g_set_error_literal(error, G_FILE_ERROR, g_file_error_from_errno(errnum), g_strerror(errnum));
}

/* Refuses what is not a regular file, before a single byte is read; sizes
 * the buffer so that a secret is not left behind in reallocated blocks. */
static gboolean
check_regular(int fd, gsize max, GString *buf, GError **error)
{
  struct stat st;

  if (fstat(fd, &st) < 0) {
    set_errno_error(error, errno);
    return FALSE;
  }
  if (S_ISDIR(st.st_mode)) {
    g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "is a directory, not a file");
    return FALSE;
  }
  if (!S_ISREG(st.st_mode)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "is %s, not a regular file",
                tfst_file_kind(st.st_mode));
    return FALSE;
  }
  if ((guint64)st.st_size > max) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                "is larger than %" G_GSIZE_FORMAT " bytes", max);
    return FALSE;
  }
  g_string_set_size(buf, st.st_size + 1);
  g_string_truncate(buf, 0);
  return TRUE;
}

/* Reads to the end, but never past max: the file may grow while it is read. */
static gboolean
read_bounded(int fd, gsize max, GString *buf, GError **error)
{
  char chunk[16384];

  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      set_errno_error(error, errno);
      return FALSE;
    }
    if (n == 0)
      return TRUE;
    if (buf->len + (gsize)n > max) {
      g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                  "is larger than %" G_GSIZE_FORMAT " bytes", max);
      return FALSE;
    }
    g_string_append_len(buf, chunk, n);
  }
}

char *
tfst_file_read(const char *path, gsize max, gsize *out_len, GError **error)
{
  g_autoptr(GString) buf = NULL;
  gboolean ok;
  int fd;

  g_return_val_if_fail(path != NULL, NULL);
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    set_errno_error(error, errno);
    return NULL;
  }
  buf = g_string_new(NULL);
  ok = check_regular(fd, max, buf, error) && read_bounded(fd, max, buf, error);
  close(fd);
  if (!ok)
    return NULL;
  if (out_len != NULL)
    *out_len = buf->len;
  return g_string_free(g_steal_pointer(&buf), FALSE);
}
