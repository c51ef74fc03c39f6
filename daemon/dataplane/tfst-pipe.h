/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pipes for the zero-copy data path: payload moves socket -> pipe -> socket
 * with splice(2) and never enters user space.  A pipe is held only while
 * it carries bytes (one per active transfer, never one per idle session),
 * and the pool keeps a few empty ones for the next transfer. */
#pragma once

#include "tfst-buf.h"

#include <glib.h>

/* What one pipe holds: a DATA chunk (TFST_DATA_CHUNK) fits in one. */
#define TFST_PIPE_SIZE (256u * 1024u)
/* Pipes in use at once, each two fds: beyond it transfers copy.  Far below
 * the fds a process may have, so sessions keep theirs; and the kernel
 * counts pipe capacity per user (fs.pipe-user-pages-soft, 64 MiB): the
 * instances of one host, all user tfst, stay well inside it. */
#define TFST_PIPE_MAX 64u
/* Empty pipes kept for reuse; the rest are closed when they drain. */
#define TFST_PIPE_SPARE 16u

typedef struct {
  int rd;
  int wr;
  gsize len; /* bytes in the pipe */
} TfstPipe;

typedef struct {
  GPtrArray *spare; /* empty TfstPipe */
  guint used;       /* handed out and not put back */
  gboolean got;     /* a pipe was handed out since the last trim */
  /* splice(2) was refused once (EINVAL: a socket type or kernel that
   * cannot splice): every transfer copies from then on. */
  gboolean refused;
} TfstPipePool;

void tfst_pipe_pool_init(TfstPipePool *pool);
void tfst_pipe_pool_clear(TfstPipePool *pool);
gboolean tfst_pipe_pool_usable(const TfstPipePool *pool);
/* Called every second or so: spare pipes not needed since the last call
 * are closed, so an instance without bulk traffic holds no pipe at all. */
void tfst_pipe_pool_trim(TfstPipePool *pool);

/* An empty pipe, or NULL when TFST_PIPE_MAX are in use or pipe2() fails. */
TfstPipe *tfst_pipe_get(TfstPipePool *pool);
/* Back to the pool; a pipe that still holds bytes is closed (dropped). */
void tfst_pipe_put(TfstPipePool *pool, TfstPipe *pipe);

/* splice from a socket into the pipe, at most max bytes: bytes moved, 0 at
 * end of file, or -errno (-EAGAIN: nothing to read). */
gssize tfst_pipe_fill(TfstPipePool *pool, TfstPipe *pipe, int fd, gsize max);
/* splice from the pipe into a socket, at most max bytes; more: further
 * bytes follow at once (SPLICE_F_MORE).  Bytes moved or -errno. */
gssize tfst_pipe_drain(TfstPipePool *pool, TfstPipe *pipe, int fd, gsize max, gboolean more);
/* Reads everything the pipe holds into buf (the copying fallback when the
 * far side cannot take a pipe now).  0 or -errno. */
int tfst_pipe_read_all(TfstPipe *pipe, guint8 *buf);
/* The pipe's bytes into a byte buffer, copied: at its front (they were to
 * leave before what it holds) or at its end.  0 or -errno. */
int tfst_pipe_to_buf(TfstPipe *pipe, TfstBuf *buf, gboolean front);
