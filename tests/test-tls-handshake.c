/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The TLS handshake of a hop when the peer's answer races GnuTLS's read.
 *
 * A client's first handshake call sends the ClientHello and reads at once.
 * On a loaded machine the server's first records were already there, so
 * GnuTLS took the ServerHello in that call; the next call looked at the
 * "first" byte of the stream, found an encrypted record (0x17) and refused
 * the parent as plaintext.  Here the race is made to happen every time:
 * recv() is interposed, the server answers between the client's send and
 * its read, and the read gets only the first record. */
#include "tfst-tls.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PSK_LINE "gw1:000102030405060708090a0b0c0d0e0f\n"

/* The interposer's state.  recv() has no user data, so this test keeps
 * it in a file-scope variable; nothing else in the project may. */
typedef struct {
  int fd;              /* the client's socket; -1: not armed */
  TfstTls *server;     /* answers in the middle of the client's read */
  gssize allowed;      /* bytes the client may still read; -1: not known yet */
  gboolean eagain_hit; /* the client was told to wait once */
} Race;

static Race race = {.fd = -1};

static ssize_t
real_recv(int fd, void *buf, size_t len, int flags)
{
  return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

/* The server reads the ClientHello and sends its first flight; the client
 * may then read its first record only, as if the rest were still on the
 * way. */
static void
race_answer(int fd)
{
  guint32 events = 0;
  g_autofree char *why = NULL;
  guint8 hdr[5];

  race.fd = -1; /* the server's own reads are plain */
  g_assert_cmpint(tfst_tls_handshake(race.server, &events, &why), ==, TFST_TLS_HS_AGAIN);
  g_assert_cmpint(real_recv(fd, hdr, sizeof(hdr), MSG_PEEK), ==, sizeof(hdr));
  g_assert_cmpint(hdr[0], ==, 0x16); /* the ServerHello */
  race.allowed = sizeof(hdr) + (hdr[3] << 8 | hdr[4]);
  race.fd = fd;
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
  ssize_t n;

  if (fd != race.fd || (flags & MSG_PEEK))
    return real_recv(fd, buf, len, flags);
  if (race.allowed < 0)
    race_answer(fd);
  if (race.allowed == 0) {
    race.fd = -1;
    race.eagain_hit = TRUE;
    errno = EAGAIN;
    return -1;
  }
  n = real_recv(fd, buf, MIN(len, (size_t)race.allowed), flags);
  if (n > 0)
    race.allowed -= n;
  return n;
}

static TfstTlsCreds *
psk_creds(const char *path, gboolean server)
{
  TfstTlsConf conf = {.enabled = TRUE, .psk_file = (char *)path, .min_version = 13};
  TfstTlsKey key;
  g_autoptr(GError) error = NULL;
  TfstTlsCreds *c = tfst_tls_creds_new(&conf, server, server ? "relay1" : "gw1", &key, &error);

  g_assert_no_error(error);
  return c;
}

/* Steps both sides until both are done; fails on any refusal. */
static void
run_both(TfstTls *client, TfstTls *server)
{
  TfstTlsHandshake c = TFST_TLS_HS_AGAIN, s = TFST_TLS_HS_AGAIN;

  for (int round = 0; round < 20 && (c != TFST_TLS_HS_DONE || s != TFST_TLS_HS_DONE); round++) {
    guint32 events = 0;
    g_autofree char *cwhy = NULL;
    g_autofree char *swhy = NULL;

    if (c != TFST_TLS_HS_DONE)
      c = tfst_tls_handshake(client, &events, &cwhy);
    g_assert_cmpstr(cwhy, ==, NULL);
    if (s != TFST_TLS_HS_DONE)
      s = tfst_tls_handshake(server, &events, &swhy);
    g_assert_cmpstr(swhy, ==, NULL);
  }
  g_assert_cmpint(c, ==, TFST_TLS_HS_DONE);
  g_assert_cmpint(s, ==, TFST_TLS_HS_DONE);
}

static void
test_answer_before_first_read(void)
{
  g_autofree char *dir = g_dir_make_tmp("tfst-tls-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "psk", NULL);
  g_autoptr(TfstTlsCreds) ccreds = NULL;
  g_autoptr(TfstTlsCreds) screds = NULL;
  g_autoptr(GError) error = NULL;
  TfstTls *client, *server;
  int sv[2];

  g_file_set_contents(path, PSK_LINE, -1, &error);
  g_assert_no_error(error);
  ccreds = psk_creds(path, FALSE);
  screds = psk_creds(path, TRUE);
  g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), ==, 0);
  client = tfst_tls_new(ccreds, TRUE, sv[0], NULL, &error);
  g_assert_no_error(error);
  server = tfst_tls_new(screds, FALSE, sv[1], NULL, &error);
  g_assert_no_error(error);

  race = (Race){.fd = sv[0], .server = server, .allowed = -1};
  run_both(client, server);
  g_assert_true(race.eagain_hit); /* the race did happen */
  g_assert_cmpint(race.fd, ==, -1);

  tfst_tls_free(client);
  tfst_tls_free(server);
  close(sv[0]);
  close(sv[1]);
  g_unlink(path);
  g_rmdir(dir);
}

/* A server does not hand the socket to GnuTLS before the client's first
 * byte is there to be looked at. */
static void
test_server_waits_for_first_byte(void)
{
  g_autofree char *dir = g_dir_make_tmp("tfst-tls-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "psk", NULL);
  g_autoptr(TfstTlsCreds) screds = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *why = NULL;
  guint32 events = 0;
  TfstTls *server;
  int sv[2];

  g_file_set_contents(path, PSK_LINE, -1, &error);
  g_assert_no_error(error);
  screds = psk_creds(path, TRUE);
  g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), ==, 0);
  server = tfst_tls_new(screds, FALSE, sv[1], NULL, &error);
  g_assert_no_error(error);

  g_assert_cmpint(tfst_tls_handshake(server, &events, &why), ==, TFST_TLS_HS_AGAIN);
  g_assert_cmpuint(events, ==, EPOLLIN);
  /* Plaintext arriving later is still seen as the first byte. */
  g_assert_cmpint(write(sv[0], "\x01\x01\x00\x00", 4), ==, 4);
  g_assert_cmpint(tfst_tls_handshake(server, &events, &why), ==, TFST_TLS_HS_FAILED);
  g_assert_nonnull(strstr(why, "first byte 0x01, a tfst frame"));

  tfst_tls_free(server);
  close(sv[0]);
  close(sv[1]);
  g_unlink(path);
  g_rmdir(dir);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tls/handshake/answer-before-first-read", test_answer_before_first_read);
  g_test_add_func("/tls/handshake/server-waits-for-first-byte", test_server_waits_for_first_byte);
  return g_test_run();
}
