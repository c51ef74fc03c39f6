/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The durable event spool of one [Events NAME] section at its collecting
 * end: an append-only sequence of events (opaque byte strings of 1 ...
 * TFST_EVENT_MAX bytes) in segment files under one directory, each event
 * numbered by a sequence number that never goes back while the spool
 * exists.  Events are trimmed only once the far end acknowledged them.
 *
 * Called from one thread (the data plane); fdatasync() runs on a worker
 * thread of the spool's own so a slow disk never stalls the data plane.
 * Errors are errno-style (negative errno), as everywhere in the data plane.
 * The on-disk format is described in docs/events.md. */
#pragma once

#include "tfst-config.h"

#include <glib.h>

typedef struct TfstSpool TfstSpool;

/* Counters the spool keeps itself (since it was opened). */
typedef struct {
  guint64 dropped_oldest; /* SpoolFull=drop-oldest: unacknowledged events removed for room */
  guint64 damaged_files;  /* files (or tails of files) moved aside at open */
} TfstSpoolCounters;

/* Opens (creating it and its parents, mode 0700) the spool in `dir` and
 * replays it: every intact event after the last acknowledgement is held
 * again.  A damaged file (truncated record, bad checksum, garbage, a newer
 * format version) keeps the intact events before the damage; the rest is
 * moved aside to a file next to it whose name ends in ".damaged", and one
 * line per damaged file saying which file, where and why is appended to
 * `problems` (char *, for the journal; may be NULL).  Fails (errno-style
 * GError, G_IO_ERROR) only when the directory cannot be created, opened,
 * locked or written. */
TfstSpool *tfst_spool_open(const char *dir, const TfstSpoolConf *conf, GPtrArray *problems,
                           GError **error);
void tfst_spool_free(TfstSpool *spool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstSpool, tfst_spool_free)

/* A reload may change SpoolSize=, SpoolSync= and SpoolFull= in place. */
void tfst_spool_set_conf(TfstSpool *spool, const TfstSpoolConf *conf);

/* Appends one event received at `received_rt` (CLOCK_REALTIME, µs) and
 * returns 0 with its sequence number in *seq, or:
 *   -ENOSPC  no room under SpoolSize= and the policy is drop-newest or
 *            block (the event is not stored; with block, try again after
 *            tfst_spool_trim() freed room: see tfst_spool_has_room());
 *   -EMSGSIZE len is 0 or above TFST_EVENT_MAX;
 *   -errno   the write failed (ENOSPC from the file system is returned as
 *            -EDQUOT so the caller can tell a full disk from a full spool;
 *            EIO, EROFS...).  The spool stays usable: the next append tries
 *            again at the same place.
 * With drop-oldest, the oldest events (acknowledged or not) are removed to
 * make room, counted in dropped_oldest. */
int tfst_spool_append(TfstSpool *spool, const guint8 *data, gsize len, gint64 received_rt,
                      guint64 *seq);
/* Room for an event of `len` bytes without dropping anything. */
gboolean tfst_spool_has_room(const TfstSpool *spool, gsize len);

/* The events held are first_seq ... next_seq - 1 (none when equal).
 * first_seq rises by trims and by drop-oldest. */
guint64 tfst_spool_first_seq(const TfstSpool *spool);
guint64 tfst_spool_next_seq(const TfstSpool *spool);
/* A random non-zero number made when the spool was created: a spool made
 * afresh (deleted, or moved aside as a whole) numbers events from 1 again,
 * and the far end must not take them for duplicates. */
guint64 tfst_spool_epoch(const TfstSpool *spool);
guint64 tfst_spool_bytes(const TfstSpool *spool); /* on disk, headers included */
guint64 tfst_spool_events(const TfstSpool *spool);
/* CLOCK_REALTIME µs at which the oldest held event was received, 0: none. */
gint64 tfst_spool_oldest_rt(const TfstSpool *spool);
const TfstSpoolCounters *tfst_spool_counters(const TfstSpool *spool);

/* Reading, in order: *seq is the sequence number to read (held events
 * only: first_seq <= *seq < next_seq).  Copies the event into buf (cap at
 * least TFST_EVENT_MAX), sets *len and advances *seq to the next event.
 * Returns 0, -ENOENT when *seq is not held (trimmed or dropped meanwhile:
 * restart at first_seq), or -errno of the read.  Sequential reads from
 * one position on cost no seek. */
int tfst_spool_read(TfstSpool *spool, guint64 *seq, guint8 *buf, gsize cap, gsize *len,
                    gint64 *received_rt);

/* Every event up to and including `acked` was delivered: they may go.
 * Whole segment files are deleted once all their events are acknowledged;
 * the acknowledgement is persisted with the next sync, so a crash between
 * the two may deliver some events again (at-least-once), never lose one. */
void tfst_spool_trim(TfstSpool *spool, guint64 acked);

/* Durability.  Appended events are in the page cache at once (they survive
 * kill -9); tfst_spool_sync_start() makes what was appended so far durable
 * (fdatasync, on the spool's worker thread).  A no-op when nothing is
 * dirty; when a sync runs already, another one follows it.  sync_fd()
 * becomes readable when a sync completed: then sync_finish() returns 0 and
 * the sequence number up to which (exclusive) everything is durable, or
 * -errno of the failed fdatasync. */
gboolean tfst_spool_dirty(const TfstSpool *spool);
void tfst_spool_sync_start(TfstSpool *spool);
int tfst_spool_sync_fd(const TfstSpool *spool);
int tfst_spool_sync_finish(TfstSpool *spool, guint64 *durable_next);
