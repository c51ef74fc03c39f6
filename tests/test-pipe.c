/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pipe pool of the zero-copy path (tfst-pipe.c): its bound, what it
 * keeps and closes, splicing through real sockets, and the switch to
 * copying when the kernel refuses splice. */
#include "tfst-pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static gboolean
fd_open(int fd)
{
  return fcntl(fd, F_GETFD) >= 0;
}

static void
test_bound(void)
{
  TfstPipePool pool;
  TfstPipe *got[TFST_PIPE_MAX];

  tfst_pipe_pool_init(&pool);
  for (guint i = 0; i < TFST_PIPE_MAX; i++)
    g_assert_nonnull(got[i] = tfst_pipe_get(&pool));
  g_assert_false(tfst_pipe_pool_usable(&pool));
  g_assert_null(tfst_pipe_get(&pool));
  tfst_pipe_put(&pool, got[0]);
  g_assert_true(tfst_pipe_pool_usable(&pool));
  g_assert_nonnull(got[0] = tfst_pipe_get(&pool));
  for (guint i = 0; i < TFST_PIPE_MAX; i++)
    tfst_pipe_put(&pool, got[i]);
  g_assert_cmpuint(pool.used, ==, 0);
  g_assert_cmpuint(pool.spare->len, ==, TFST_PIPE_SPARE);
  tfst_pipe_pool_clear(&pool);
}

/* Bytes through a pipe: socket -> pipe -> socket, nothing in between. */
static void
test_fill_drain(void)
{
  TfstPipePool pool;
  TfstPipe *pipe;
  int a[2], b[2];
  char out[7] = {0};

  g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a));
  g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b));
  tfst_pipe_pool_init(&pool);
  pipe = tfst_pipe_get(&pool);
  g_assert_cmpint(tfst_pipe_fill(&pool, pipe, a[1], 64), ==, -EAGAIN);
  g_assert_cmpint(write(a[0], "spliced", 7), ==, 7);
  g_assert_cmpint(tfst_pipe_fill(&pool, pipe, a[1], 64), ==, 7);
  g_assert_cmpuint(pipe->len, ==, 7);
  g_assert_cmpint(tfst_pipe_drain(&pool, pipe, b[0], 3, TRUE), ==, 3);
  g_assert_cmpint(tfst_pipe_drain(&pool, pipe, b[0], 64, FALSE), ==, 4);
  g_assert_cmpuint(pipe->len, ==, 0);
  g_assert_cmpint(read(b[1], out, sizeof(out)), ==, 7);
  g_assert_cmpmem(out, 7, "spliced", 7);
  close(a[0]);
  g_assert_cmpint(tfst_pipe_fill(&pool, pipe, a[1], 64), ==, 0); /* end of file */
  tfst_pipe_put(&pool, pipe);
  g_assert_cmpuint(pool.spare->len, ==, 1);
  tfst_pipe_pool_clear(&pool);
  close(a[1]);
  close(b[0]);
  close(b[1]);
}

/* A pipe that still holds bytes is never handed out again: it is closed. */
static void
test_put_full_closes(void)
{
  TfstPipePool pool;
  TfstPipe *pipe;
  int rd, wr;

  tfst_pipe_pool_init(&pool);
  pipe = tfst_pipe_get(&pool);
  rd = pipe->rd;
  wr = pipe->wr;
  g_assert_cmpint(write(pipe->wr, "left", 4), ==, 4);
  pipe->len = 4;
  tfst_pipe_put(&pool, pipe);
  g_assert_cmpuint(pool.spare->len, ==, 0);
  g_assert_false(fd_open(rd));
  g_assert_false(fd_open(wr));
  tfst_pipe_pool_clear(&pool);
}

/* Spare pipes outlive one trim after they were used, not two. */
static void
test_trim(void)
{
  TfstPipePool pool;
  TfstPipe *pipe;
  int rd;

  tfst_pipe_pool_init(&pool);
  pipe = tfst_pipe_get(&pool);
  rd = pipe->rd;
  tfst_pipe_put(&pool, pipe);
  tfst_pipe_pool_trim(&pool);
  g_assert_cmpuint(pool.spare->len, ==, 1);
  g_assert_true(fd_open(rd));
  tfst_pipe_pool_trim(&pool);
  g_assert_cmpuint(pool.spare->len, ==, 0);
  g_assert_false(fd_open(rd));
  tfst_pipe_pool_clear(&pool);
}

/* An fd the kernel cannot splice from (EINVAL) switches the pool off:
 * every transfer copies from then on. */
static void
test_refused(void)
{
  TfstPipePool pool;
  TfstPipe *pipe;
  int efd = eventfd(1, EFD_NONBLOCK);

  g_assert_no_errno(efd);
  tfst_pipe_pool_init(&pool);
  pipe = tfst_pipe_get(&pool);
  g_assert_cmpint(tfst_pipe_fill(&pool, pipe, efd, 8), ==, -EINVAL);
  g_assert_true(pool.refused);
  g_assert_false(tfst_pipe_pool_usable(&pool));
  g_assert_null(tfst_pipe_get(&pool));
  tfst_pipe_put(&pool, pipe);
  tfst_pipe_pool_clear(&pool);
  close(efd);
}

/* The copying fallback keeps the order: the pipe's bytes were to leave
 * before what the buffer holds (front), or after it. */
static void
test_to_buf(void)
{
  TfstPipePool pool;
  TfstPipe *pipe;
  TfstBuf buf = {0};

  tfst_pipe_pool_init(&pool);
  pipe = tfst_pipe_get(&pool);
  tfst_buf_append(&buf, "!", 1);
  g_assert_cmpint(write(pipe->wr, "world", 5), ==, 5);
  pipe->len = 5;
  g_assert_cmpint(tfst_pipe_to_buf(pipe, &buf, TRUE), ==, 0);
  g_assert_cmpmem(tfst_buf_peek(&buf), tfst_buf_len(&buf), "world!", 6);
  g_assert_cmpint(write(pipe->wr, "??", 2), ==, 2);
  pipe->len = 2;
  g_assert_cmpint(tfst_pipe_to_buf(pipe, &buf, FALSE), ==, 0);
  g_assert_cmpmem(tfst_buf_peek(&buf), tfst_buf_len(&buf), "world!??", 8);
  g_assert_cmpuint(pipe->len, ==, 0);
  tfst_pipe_put(&pool, pipe);
  tfst_buf_clear(&buf);
  tfst_pipe_pool_clear(&pool);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/pipe/bound", test_bound);
  g_test_add_func("/tfst/pipe/fill-drain", test_fill_drain);
  g_test_add_func("/tfst/pipe/put-full-closes", test_put_full_closes);
  g_test_add_func("/tfst/pipe/trim", test_trim);
  g_test_add_func("/tfst/pipe/refused", test_refused);
  g_test_add_func("/tfst/pipe/to-buf", test_to_buf);
  return g_test_run();
}
