/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-test-util.h"

#include "tfst-config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define RUN_USEC     (10 * 1000)
#define PEER_RUNS    500
#define PEER_READ_SZ 65536

void
tfst_test_remove_tree(const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_chmod(path, 0700);
  dir = g_dir_open(path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *child = g_build_filename(path, name, NULL);

    if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
      tfst_test_remove_tree(child);
    else
      g_assert_cmpint(g_unlink(child), ==, 0);
  }
  g_assert_cmpint(g_rmdir(path), ==, 0);
}

void
tfst_test_put_be16(guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v;
}

void
tfst_test_put_be32(guint8 *p, guint32 v)
{
  tfst_test_put_be16(p, v >> 16);
  tfst_test_put_be16(p + 2, v);
}

gboolean
tfst_test_run_until(sd_event *event, gboolean (*cond)(gpointer data), gpointer data, guint max_runs)
{
  for (guint i = 0; i < max_runs; i++) {
    if (cond(data))
      return TRUE;
    g_assert_cmpint(sd_event_run(event, RUN_USEC), >=, 0);
  }
  return cond(data);
}

void
tfst_test_peer_open(TfstTestPeer *peer, int *out_fd)
{
  int sv[2];

  g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), ==, 0);
  peer->fd = sv[0];
  peer->in = g_byte_array_new();
  peer->eof = FALSE;
  *out_fd = sv[1];
}

void
tfst_test_peer_close(TfstTestPeer *peer)
{
  if (peer->fd >= 0)
    close(peer->fd);
  peer->fd = -1;
  g_clear_pointer(&peer->in, g_byte_array_unref);
}

void
tfst_test_peer_send(TfstTestPeer *peer, const guint8 *frame, gssize len)
{
  g_assert_cmpint(len, >, 0);
  g_assert_cmpint(write(peer->fd, frame, len), ==, len);
}

void
tfst_test_peer_send_frame(TfstTestPeer *peer, guint8 type, guint32 session, const void *payload,
                          guint32 len)
{
  g_autofree guint8 *f = g_malloc(TFST_FRAME_HEADER_SIZE + len);

  tfst_frame_header_encode(f, type, session, len);
  if (len > 0)
    memcpy(f + TFST_FRAME_HEADER_SIZE, payload, len);
  tfst_test_peer_send(peer, f, TFST_FRAME_HEADER_SIZE + len);
}

/* Whatever the socket has now; sets eof on end of stream or reset. */
static void
peer_read(TfstTestPeer *peer)
{
  guint8 buf[PEER_READ_SZ];
  gssize n;

  while ((n = read(peer->fd, buf, sizeof(buf))) > 0)
    g_byte_array_append(peer->in, buf, n);
  if (n == 0 || (n < 0 && errno != EAGAIN))
    peer->eof = TRUE;
}

static gboolean
peer_take(TfstTestPeer *peer, TfstFrameHeader *h, GBytes **out_payload)
{
  gsize total;

  if (tfst_frame_header_decode(peer->in->data, peer->in->len, h) != TFST_FRAME_OK)
    return FALSE;
  total = TFST_FRAME_HEADER_SIZE + h->length;
  if (peer->in->len < total)
    return FALSE;
  if (out_payload != NULL)
    *out_payload = g_bytes_new(peer->in->data + TFST_FRAME_HEADER_SIZE, h->length);
  g_byte_array_remove_range(peer->in, 0, total);
  return TRUE;
}

gboolean
tfst_test_peer_next_frame(TfstTestPeer *peer, sd_event *event, TfstFrameHeader *h,
                          GBytes **out_payload)
{
  for (guint i = 0; i < PEER_RUNS; i++) {
    peer_read(peer);
    if (peer_take(peer, h, out_payload))
      return TRUE;
    if (peer->eof)
      return FALSE;
    g_assert_cmpint(sd_event_run(event, RUN_USEC), >=, 0);
  }
  return FALSE;
}

gboolean
tfst_test_peer_expect(TfstTestPeer *peer, sd_event *event, guint8 type, TfstFrameHeader *h,
                      GBytes **out_payload)
{
  while (tfst_test_peer_next_frame(peer, event, h, out_payload)) {
    if (h->type == type)
      return TRUE;
    if (out_payload != NULL)
      g_clear_pointer(out_payload, g_bytes_unref);
  }
  return FALSE;
}

static gboolean
peer_at_eof(gpointer data)
{
  TfstTestPeer *peer = data;

  peer_read(peer);
  return peer->eof;
}

gboolean
tfst_test_peer_wait_eof(TfstTestPeer *peer, sd_event *event)
{
  return tfst_test_run_until(event, peer_at_eof, peer, PEER_RUNS);
}

void
tfst_test_peer_handshake(TfstTestPeer *peer, sd_event *event, const char *label)
{
  tfst_test_peer_handshake_features(peer, event, label, TFST_FEATURES_OURS);
}

void
tfst_test_peer_handshake_features(TfstTestPeer *peer, sd_event *event, const char *label,
                                  guint32 features)
{
  TfstChainEntry self = {.depth = 0};
  g_autoptr(GByteArray) tell = NULL;
  TfstFrameHeader h;
  TfstTellMsg m;
  guint8 b[128];

  tfst_test_peer_send(peer, b,
                      tfst_frame_encode_hello(b, sizeof(b), TFST_ROLE_GWPROXY, label, features));
  g_assert_true(tfst_test_peer_expect(peer, event, TFST_FRAME_WHO, &h, NULL));
  tfst_test_peer_send(peer, b, tfst_frame_encode_iam(b, sizeof(b), label));
  tfst_tell_msg_init(&m);
  g_strlcpy(m.label, label, sizeof(m.label));
  g_strlcpy(self.label, label, sizeof(self.label));
  g_array_append_val(m.chain, self);
  tell = tfst_frame_encode_tell(TFST_FRAME_TELL, &m);
  tfst_tell_msg_clear(&m);
  tfst_test_peer_send(peer, tell->data, tell->len);
}
