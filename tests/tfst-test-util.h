/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers the C unit tests share: big-endian writers, and the test's end
 * of a hop (a socketpair) driven through sd-event. */
#pragma once

#include "tfst-frame.h"

#include <glib.h>
#include <systemd/sd-event.h>

void tfst_test_put_be16(guint8 *p, guint16 v);
/* Removes a test's temporary directory and everything in it (made
 * writable first: a test may have taken the write bit away); symbolic
 * links are removed, never followed. Asserts that it all went. */
void tfst_test_remove_tree(const char *path);
void tfst_test_put_be32(guint8 *p, guint32 v);

/* Runs `event` (at most `max_runs` iterations of up to 10 ms) until
 * cond(data) holds; returns whether it did.  Never sleeps and asserts. */
gboolean tfst_test_run_until(sd_event *event, gboolean (*cond)(gpointer data), gpointer data,
                             guint max_runs);

/* The test's side of a socketpair whose other side a hop owns. */
typedef struct {
  int fd;
  GByteArray *in; /* read, not yet taken as frames */
  gboolean eof;
} TfstTestPeer;

/* A non-blocking AF_UNIX stream pair: *out_fd for the code under test. */
void tfst_test_peer_open(TfstTestPeer *peer, int *out_fd);
void tfst_test_peer_close(TfstTestPeer *peer);
void tfst_test_peer_send(TfstTestPeer *peer, const guint8 *frame, gssize len);
/* Sends a frame with header and `payload` (may be NULL when len is 0). */
void tfst_test_peer_send_frame(TfstTestPeer *peer, guint8 type, guint32 session,
                               const void *payload, guint32 len);
/* The next whole frame from the hop, running `event` while none has
 * arrived; FALSE at EOF or when none came in time. */
gboolean tfst_test_peer_next_frame(TfstTestPeer *peer, sd_event *event, TfstFrameHeader *h,
                                   GBytes **out_payload);
/* Skips frames until one of `type`; FALSE when none came. */
gboolean tfst_test_peer_expect(TfstTestPeer *peer, sd_event *event, guint8 type, TfstFrameHeader *h,
                               GBytes **out_payload);
/* Runs `event` until the peer has seen EOF (or a reset); FALSE when not. */
gboolean tfst_test_peer_wait_eof(TfstTestPeer *peer, sd_event *event);
/* The child's side of a hop's handshake as a gateway proxy named `label`:
 * HELLO, then (after the WHO) IAM and a TELL naming itself. */
void tfst_test_peer_handshake(TfstTestPeer *peer, sd_event *event, const char *label);
/* The same announcing `features` in HELLO (the one above: TFST_FEATURES_OURS). */
void tfst_test_peer_handshake_features(TfstTestPeer *peer, sd_event *event, const char *label,
                                       guint32 features);
