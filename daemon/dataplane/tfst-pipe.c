/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void
tfst_pipe_pool_init(TfstPipePool *pool)
{
  pool->spare = g_ptr_array_new();
  pool->used = 0;
  pool->refused = FALSE;
}

static void
pipe_close(TfstPipe *pipe)
{
  close(pipe->rd);
  close(pipe->wr);
  g_free(pipe);
}

void
tfst_pipe_pool_clear(TfstPipePool *pool)
{
  if (pool->spare == NULL)
    return;
  for (guint i = 0; i < pool->spare->len; i++)
    pipe_close(g_ptr_array_index(pool->spare, i));
  g_clear_pointer(&pool->spare, g_ptr_array_unref);
}

gboolean
tfst_pipe_pool_usable(const TfstPipePool *pool)
{
  return !pool->refused && pool->used < TFST_PIPE_MAX;
}

void
tfst_pipe_pool_trim(TfstPipePool *pool)
{
  if (!pool->got)
    while (pool->spare->len > 0)
      pipe_close(g_ptr_array_steal_index_fast(pool->spare, pool->spare->len - 1));
  pool->got = FALSE;
}

static TfstPipe *
pipe_new(void)
{
  int fds[2];
  TfstPipe *pipe;

  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
    return NULL;
  /* A bigger pipe takes a whole DATA chunk in one splice; the default
   * (64 KiB) still works, with more calls. */
  (void)fcntl(fds[1], F_SETPIPE_SZ, (int)TFST_PIPE_SIZE);
  pipe = g_new0(TfstPipe, 1);
  pipe->rd = fds[0];
  pipe->wr = fds[1];
  return pipe;
}

TfstPipe *
tfst_pipe_get(TfstPipePool *pool)
{
  TfstPipe *pipe;

  if (!tfst_pipe_pool_usable(pool))
    return NULL;
  if (pool->spare->len > 0)
    pipe = g_ptr_array_steal_index_fast(pool->spare, pool->spare->len - 1);
  else if ((pipe = pipe_new()) == NULL)
    return NULL;
  pool->used++;
  pool->got = TRUE;
  return pipe;
}

void
tfst_pipe_put(TfstPipePool *pool, TfstPipe *pipe)
{
  if (pipe == NULL)
    return;
  g_assert(pool->used > 0);
  pool->used--;
  if (pipe->len == 0 && pool->spare != NULL && pool->spare->len < TFST_PIPE_SPARE)
    g_ptr_array_add(pool->spare, pipe);
  else
    pipe_close(pipe);
}

/* EINVAL and its kin mean this kernel or socket cannot splice at all, not
 * that this transfer failed: the pool stops handing out pipes. */
static gssize
pipe_result(TfstPipePool *pool, ssize_t n)
{
  if (n >= 0)
    return n;
  if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
    pool->refused = TRUE;
  return -errno;
}

gssize
tfst_pipe_fill(TfstPipePool *pool, TfstPipe *pipe, int fd, gsize max)
{
  gssize n;

  do
    n = pipe_result(pool, splice(fd, NULL, pipe->wr, NULL, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
  while (n == -EINTR);
  if (n > 0)
    pipe->len += n;
  return n;
}

gssize
tfst_pipe_drain(TfstPipePool *pool, TfstPipe *pipe, int fd, gsize max, gboolean more)
{
  guint flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0);
  gssize n;

  do
    n = pipe_result(pool, splice(pipe->rd, NULL, fd, NULL, MIN(max, pipe->len), flags));
  while (n == -EINTR);
  if (n > 0)
    pipe->len -= n;
  return n;
}

int
tfst_pipe_read_all(TfstPipe *pipe, guint8 *buf)
{
  while (pipe->len > 0) {
    ssize_t n = read(pipe->rd, buf, pipe->len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    buf += n;
    pipe->len -= n;
  }
  return 0;
}

int
tfst_pipe_to_buf(TfstPipe *pipe, TfstBuf *buf, gboolean front)
{
  TfstBuf rest = {0};
  gsize len = pipe->len;
  int r;

  if (front) {
    rest = *buf;
    memset(buf, 0, sizeof(*buf));
  }
  r = tfst_pipe_read_all(pipe, tfst_buf_reserve(buf, len));
  if (r == 0)
    tfst_buf_commit(buf, len);
  if (tfst_buf_len(&rest) > 0)
    tfst_buf_append(buf, tfst_buf_peek(&rest), tfst_buf_len(&rest));
  tfst_buf_clear(&rest);
  return r;
}
