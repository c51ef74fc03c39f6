/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event spool: segment files NNNNNNNNNNNNNNNNNNNN.seg (the first
 * sequence number, 20 digits) of records appended one write each, an
 * "acked" file saying up to which event the far end acknowledged, and a
 * "lock" file.  docs/events.md ("Spool format") has the layout.
 *
 * Memory does not grow with the events held: per segment its first and
 * next sequence number, size and the time of its first event, and two
 * cursors (read and head) with a fixed buffer each.  A reload, a RTO or a
 * failover reads again from the head, which trim keeps on first_seq. */
#include "tfst-spool.h"

#include "tfst-file.h"
#include "tfst-spool-format.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define HDR_LEN TFST_SPOOL_FORMAT_HEADER_LEN
#define REC_LEN TFST_SPOOL_FORMAT_RECORD_LEN
/* Large enough that a 256M spool has few files, small enough that
 * drop-oldest frees room in steps of at most 1/8 of the spool. */
#define SEGMENT_MAX (8u * 1024 * 1024)
/* holds any record whole: header and TFST_EVENT_MAX bytes */
#define CURSOR_BUF       (128u * 1024)
#define SEG_DIGITS       20
#define SEG_SUFFIX       ".seg"
#define DAMAGED_SUFFIX   ".damaged"
#define ACKED_FILE       "acked"
#define ACKED_TMP        "acked.tmp"
#define LOCK_FILE        "lock"
#define ACKED_FILE_MAX   128
#define DAMAGED_NAME_MAX 1000
G_STATIC_ASSERT(CURSOR_BUF >= REC_LEN + TFST_EVENT_MAX);

typedef struct {
  guint64 first; /* sequence number of its first record (its name) */
  guint64 next;  /* after its last record */
  guint64 bytes; /* file size: header and whole records */
  gint64 first_rt;
  guint64 epoch;
} Segment;

/* A position in the spool: the record numbered seq is at off in the
 * segment that starts at seg_first; buf holds [buf_pos, buf_pos+buf_len). */
typedef struct {
  int fd; /* -1: not positioned */
  guint64 seg_first;
  guint64 seq;
  guint64 off;
  guint8 *buf;
  guint64 buf_pos;
  gsize buf_len;
} Cursor;

/* What one fdatasync round makes durable; the worker owns it. */
typedef struct {
  GArray *fds; /* int: fdatasync, then close */
  gboolean write_acked;
  guint64 epoch;
  guint64 acked;
  gboolean sync_dir;
  guint64 next; /* durable below this once done */
} SyncJob;

/* Shared with the worker thread, under lock. */
typedef struct {
  GMutex lock;
  GCond cond;
  SyncJob *job; /* waiting to run */
  gboolean quit;
  gboolean done; /* results since the last sync_finish */
  guint64 done_next;
  int error;
  int dir_fd; /* the worker's own */
  int event_fd;
} Syncer;

struct TfstSpool {
  char *dir;
  int dir_fd;
  int lock_fd;
  TfstSpoolConf conf;
  GArray *segs; /* Segment, ascending; the last one is appended to */
  int wfd;
  guint64 first_seq;
  guint64 next_seq;
  guint64 epoch;
  guint64 bytes;
  gint64 oldest_rt;
  Cursor rd;
  Cursor head; /* on first_seq once trimmed: oldest_rt and go-back reads */
  TfstSpoolCounters counters;
  gboolean data_dirty;
  gboolean acked_dirty;
  gboolean dir_dirty;
  GArray *retired_fds; /* dirty segments no longer appended to */
  Syncer sync;
  GThread *thread;
};

static void
close_fd(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* ENOSPC of the file system reads -EDQUOT: -ENOSPC means the spool. */
static int
neg_errno(int e)
{
  if (e == 0)
    e = EIO;
  return e == ENOSPC ? -EDQUOT : -e;
}

/* ---- segments ---- */

static Segment *
seg_at(const TfstSpool *s, guint i)
{
  return &g_array_index(s->segs, Segment, i);
}

static Segment *
seg_last(const TfstSpool *s)
{
  return s->segs->len > 0 ? seg_at(s, s->segs->len - 1) : NULL;
}

/* The segment holding seq, or -1 (binary search: a large spool with small
 * segments has thousands). */
static gint
seg_find(const TfstSpool *s, guint64 seq)
{
  guint lo = 0, hi = s->segs->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    const Segment *g = seg_at(s, mid);

    if (seq < g->first)
      hi = mid;
    else if (seq >= g->next)
      lo = mid + 1;
    else
      return (gint)mid;
  }
  return -1;
}

static void
seg_name(guint64 first, char buf[SEG_DIGITS + sizeof(SEG_SUFFIX)])
{
  g_snprintf(buf, SEG_DIGITS + sizeof(SEG_SUFFIX), "%0*" G_GUINT64_FORMAT SEG_SUFFIX, SEG_DIGITS,
             first);
}

/* The first sequence number a segment file name says, FALSE: not one. */
static gboolean
seg_parse_name(const char *name, guint64 *first)
{
  g_autofree char *digits = NULL;

  if (strlen(name) != SEG_DIGITS + strlen(SEG_SUFFIX) || !g_str_has_suffix(name, SEG_SUFFIX))
    return FALSE;
  digits = g_strndup(name, SEG_DIGITS);
  return g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT64, first, NULL);
}

/* min(8 MiB, SpoolSize/8): drop-oldest frees room in small steps. */
static guint64
seg_max(const TfstSpool *s)
{
  return MIN((guint64)SEGMENT_MAX, s->conf.max_bytes / 8);
}

/* ---- cursors ---- */

static void
cursor_reset(Cursor *c)
{
  close_fd(&c->fd);
  c->buf_len = 0;
}

static gboolean
cursor_in(const Cursor *c, const Segment *g)
{
  return c->fd >= 0 && c->seg_first == g->first;
}

static int
cursor_open(TfstSpool *s, Cursor *c, const Segment *g)
{
  char name[SEG_DIGITS + sizeof(SEG_SUFFIX)];

  cursor_reset(c);
  seg_name(g->first, name);
  c->fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (c->fd < 0)
    return neg_errno(errno);
  c->seg_first = g->first;
  c->seq = g->first;
  c->off = HDR_LEN;
  return 0;
}

/* Makes [off, off+len) of the segment available in the buffer, reading
 * no further than its end (a failed append may have left bytes beyond). */
static int
cursor_fill(Cursor *c, const Segment *g, guint64 off, gsize len, const guint8 **out)
{
  ssize_t n;

  if (off >= c->buf_pos && off + len <= c->buf_pos + c->buf_len) {
    *out = c->buf + (off - c->buf_pos);
    return 0;
  }
  if (off + len > g->bytes || len > CURSOR_BUF)
    return -EIO;
  n = pread(c->fd, c->buf, MIN((guint64)CURSOR_BUF, g->bytes - off), (off_t)off);
  if (n < 0)
    return neg_errno(errno);
  c->buf_pos = off;
  c->buf_len = (gsize)n;
  if ((gsize)n < len)
    return -EIO;
  *out = c->buf;
  return 0;
}

/* The header of the record at the cursor, checked against what it must be. */
static int
cursor_record(Cursor *c, const Segment *g, TfstSpoolFormatRecord *r)
{
  const guint8 *p;
  int ret = cursor_fill(c, g, c->off, REC_LEN, &p);

  if (ret < 0)
    return ret;
  tfst_spool_format_record_decode(p, r);
  if (r->seq != c->seq || r->len == 0 || r->len > TFST_EVENT_MAX ||
      c->off + REC_LEN + r->len > g->bytes)
    return -EIO;
  return 0;
}

/* Moves the cursor forward (within its segment) to seq. */
static int
cursor_skip(Cursor *c, const Segment *g, guint64 seq)
{
  while (c->seq < seq) {
    TfstSpoolFormatRecord r;
    int ret = cursor_record(c, g, &r);

    if (ret < 0)
      return ret;
    c->off += REC_LEN + r.len;
    c->seq++;
  }
  return 0;
}

/* Positions c on seq in segment i, starting from c itself or from
 * `hint` when one of them is in that segment at or before seq. */
static int
cursor_seek_in(TfstSpool *s, Cursor *c, const Cursor *hint, guint i, guint64 seq)
{
  const Segment *g = seg_at(s, i);
  int ret;

  if (cursor_in(c, g) && c->seq <= seq)
    return cursor_skip(c, g, seq);
  if (cursor_in(c, g)) {
    c->seq = g->first; /* back to the start of the same file: its buffer stays */
    c->off = HDR_LEN;
  } else if ((ret = cursor_open(s, c, g)) < 0) {
    return ret;
  }
  if (hint != NULL && cursor_in(hint, g) && hint->seq <= seq && hint->seq > c->seq) {
    c->seq = hint->seq;
    c->off = hint->off;
  }
  return cursor_skip(c, g, seq);
}

/* Positions c on seq, which must be held. */
static int
cursor_seek(TfstSpool *s, Cursor *c, const Cursor *hint, guint64 seq)
{
  gint i = seg_find(s, seq);

  return i < 0 ? -ENOENT : cursor_seek_in(s, c, hint, (guint)i, seq);
}

/* ---- accessors ---- */

guint64
tfst_spool_first_seq(const TfstSpool *spool)
{
  return spool->first_seq;
}

guint64
tfst_spool_next_seq(const TfstSpool *spool)
{
  return spool->next_seq;
}

guint64
tfst_spool_epoch(const TfstSpool *spool)
{
  return spool->epoch;
}

guint64
tfst_spool_bytes(const TfstSpool *spool)
{
  return spool->bytes;
}

guint64
tfst_spool_events(const TfstSpool *spool)
{
  return spool->next_seq - spool->first_seq;
}

gint64
tfst_spool_oldest_rt(const TfstSpool *spool)
{
  return spool->first_seq < spool->next_seq ? spool->oldest_rt : 0;
}

const TfstSpoolCounters *
tfst_spool_counters(const TfstSpool *spool)
{
  return &spool->counters;
}

void
tfst_spool_set_conf(TfstSpool *spool, const TfstSpoolConf *conf)
{
  spool->conf = *conf;
}

/* ---- reading ---- */

int
tfst_spool_read(TfstSpool *spool, guint64 *seq, guint8 *buf, gsize cap, gsize *len,
                gint64 *received_rt)
{
  TfstSpoolFormatRecord r;
  const guint8 *p;
  const Segment *g;
  int ret;

  if (*seq < spool->first_seq || *seq >= spool->next_seq)
    return -ENOENT;
  ret = cursor_seek(spool, &spool->rd, &spool->head, *seq);
  if (ret < 0)
    return ret;
  g = seg_at(spool, (guint)seg_find(spool, *seq));
  ret = cursor_record(&spool->rd, g, &r);
  if (ret < 0)
    return ret;
  if (r.len > cap)
    return -EMSGSIZE;
  ret = cursor_fill(&spool->rd, g, spool->rd.off, REC_LEN + r.len, &p);
  if (ret < 0)
    return ret;
  memcpy(buf, p + REC_LEN, r.len);
  spool->rd.off += REC_LEN + r.len;
  spool->rd.seq++;
  *len = r.len;
  *received_rt = r.received_rt;
  (*seq)++;
  return 0;
}

/* ---- removing segments ---- */

static void
seg_retire_fd(TfstSpool *s)
{
  if (s->wfd < 0)
    return;
  if (s->data_dirty) {
    int dup_fd = fcntl(s->wfd, F_DUPFD_CLOEXEC, 0);

    if (dup_fd >= 0)
      g_array_append_val(s->retired_fds, dup_fd);
  }
  close_fd(&s->wfd);
}

/* Deletes the oldest segment; its events go with it. */
static void
seg_drop_first(TfstSpool *s)
{
  const Segment *g = seg_at(s, 0);
  char name[SEG_DIGITS + sizeof(SEG_SUFFIX)];

  if (cursor_in(&s->rd, g))
    cursor_reset(&s->rd);
  if (cursor_in(&s->head, g))
    cursor_reset(&s->head);
  if (s->segs->len == 1)
    seg_retire_fd(s);
  seg_name(g->first, name);
  if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
    g_debug("spool %s: cannot delete %s: %s", s->dir, name, g_strerror(errno));
  s->bytes -= g->bytes;
  s->dir_dirty = TRUE;
  g_array_remove_index(s->segs, 0);
}

/* first_seq moved: the head cursor follows it, for oldest_rt.  With
 * nothing held it waits at the end of the last segment, so that the next
 * trim goes on from there rather than from the start of the file. */
static void
head_follow(TfstSpool *s)
{
  gint i = s->first_seq < s->next_seq ? seg_find(s, s->first_seq) : (gint)s->segs->len - 1;
  TfstSpoolFormatRecord r;

  if (i < 0 || cursor_seek_in(s, &s->head, NULL, (guint)i, s->first_seq) < 0) {
    cursor_reset(&s->head);
    if (i >= 0 && s->first_seq < s->next_seq)
      s->oldest_rt = seg_at(s, (guint)i)->first_rt;
    return;
  }
  if (s->first_seq == s->next_seq)
    return;
  if (cursor_record(&s->head, seg_at(s, (guint)i), &r) < 0) {
    /* unreadable now; the segment's first time is an upper bound of the age */
    s->oldest_rt = seg_at(s, (guint)i)->first_rt;
    cursor_reset(&s->head);
    return;
  }
  s->oldest_rt = r.received_rt;
}

/* Segments whose events were all acknowledged go.  The last one stays:
 * it is appended to, and it says the next number after a restart. */
static void
trim_segments(TfstSpool *s)
{
  while (s->segs->len > 1 && seg_at(s, 0)->next <= s->first_seq)
    seg_drop_first(s);
  head_follow(s);
}

void
tfst_spool_trim(TfstSpool *spool, guint64 acked)
{
  if (acked >= spool->next_seq)
    acked = spool->next_seq - 1;
  if (acked < spool->first_seq)
    return;
  spool->first_seq = acked + 1;
  spool->acked_dirty = TRUE;
  trim_segments(spool);
}

/* ---- appending ---- */

static int
seg_create(TfstSpool *s)
{
  char name[SEG_DIGITS + sizeof(SEG_SUFFIX)];
  guint8 hdr[HDR_LEN];
  TfstSpoolFormatHeader h = {TFST_SPOOL_FORMAT_VERSION, s->epoch, s->next_seq};
  Segment g = {s->next_seq, s->next_seq, HDR_LEN, 0, s->epoch};
  int fd;

  seg_name(s->next_seq, name);
  fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return neg_errno(errno);
  tfst_spool_format_header_encode(&h, hdr);
  if (pwrite(fd, hdr, HDR_LEN, 0) != HDR_LEN) {
    int e = neg_errno(errno);

    close(fd);
    unlinkat(s->dir_fd, name, 0);
    return e;
  }
  seg_retire_fd(s);
  s->wfd = fd;
  s->bytes += HDR_LEN;
  s->dir_dirty = TRUE;
  s->data_dirty = TRUE;
  g_array_append_val(s->segs, g);
  return 0;
}

/* A new segment is started when the last one holds events and this one
 * would take it past its size. */
static gboolean
needs_segment(const TfstSpool *s, gsize rec)
{
  const Segment *g = seg_last(s);

  return s->wfd < 0 || g == NULL || (g->next > g->first && g->bytes + rec > seg_max(s));
}

static guint64
room_needed(const TfstSpool *s, gsize len)
{
  return REC_LEN + len + (needs_segment(s, REC_LEN + len) ? HDR_LEN : 0);
}

gboolean
tfst_spool_has_room(const TfstSpool *spool, gsize len)
{
  return spool->bytes + room_needed(spool, len) <= spool->conf.max_bytes;
}

/* SpoolFull=drop-oldest: whole segments go, oldest first.  The one
 * appended to stays; when it alone is too large (SpoolSize= was made
 * smaller), a new one is started so that it can go too. */
static int
drop_oldest(TfstSpool *s, gsize len)
{
  if (!tfst_spool_has_room(s, len) && s->segs->len == 1 && needs_segment(s, REC_LEN + len)) {
    int ret = seg_create(s);

    if (ret < 0)
      return ret;
  }
  while (!tfst_spool_has_room(s, len) && s->segs->len > 1) {
    const Segment *g = seg_at(s, 0);

    if (g->next > s->first_seq)
      s->counters.dropped_oldest += g->next - MAX(g->first, s->first_seq);
    seg_drop_first(s);
    if (s->first_seq < seg_at(s, 0)->first) {
      s->first_seq = seg_at(s, 0)->first;
      head_follow(s);
    }
  }
  return 0;
}

static int
write_record(TfstSpool *s, const guint8 *data, gsize len, gint64 rt)
{
  Segment *g = seg_last(s);
  TfstSpoolFormatRecord r = {(guint32)len, 0, s->next_seq, rt};
  guint8 hdr[REC_LEN];
  struct iovec iov[2] = {{hdr, REC_LEN}, {(void *)data, len}};
  ssize_t n;

  tfst_spool_format_record_encode(&r, data, hdr);
  n = pwritev(s->wfd, iov, 2, (off_t)g->bytes);
  if (n != (ssize_t)(REC_LEN + len)) {
    int e = n < 0 ? errno : ENOSPC;

    /* the next append writes at the same place; no torn record stays */
    if (n > 0 && ftruncate(s->wfd, (off_t)g->bytes) < 0)
      g_debug("spool %s: ftruncate: %s", s->dir, g_strerror(errno));
    return neg_errno(e);
  }
  if (g->next == g->first)
    g->first_rt = rt;
  g->bytes += REC_LEN + len;
  g->next++;
  s->bytes += REC_LEN + len;
  return 0;
}

int
tfst_spool_append(TfstSpool *spool, const guint8 *data, gsize len, gint64 received_rt, guint64 *seq)
{
  int ret;

  if (len == 0 || len > TFST_EVENT_MAX)
    return -EMSGSIZE;
  if (spool->conf.full == TFST_SPOOL_FULL_DROP_OLDEST && (ret = drop_oldest(spool, len)) < 0)
    return ret;
  if (!tfst_spool_has_room(spool, len))
    return -ENOSPC;
  if (needs_segment(spool, REC_LEN + len) && (ret = seg_create(spool)) < 0)
    return ret;
  ret = write_record(spool, data, len, received_rt);
  if (ret < 0)
    return ret;
  if (spool->first_seq == spool->next_seq)
    spool->oldest_rt = received_rt;
  spool->data_dirty = TRUE;
  *seq = spool->next_seq++;
  return 0;
}

/* ---- durability: the worker thread ---- */

static void
sync_job_free(SyncJob *job)
{
  for (guint i = 0; i < job->fds->len; i++)
    close(g_array_index(job->fds, int, i));
  g_array_unref(job->fds);
  g_free(job);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SyncJob, sync_job_free)

/* Written beside and renamed over: a crash leaves the old or the new. */
static int
write_acked(int dir_fd, guint64 epoch, guint64 acked)
{
  char text[ACKED_FILE_MAX];
  int len = g_snprintf(text, sizeof(text), "%u %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
                       TFST_SPOOL_FORMAT_VERSION, epoch, acked);
  int fd = openat(dir_fd, ACKED_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int e = 0;

  if (fd < 0)
    return -errno;
  if (write(fd, text, len) != len || fdatasync(fd) < 0)
    e = errno != 0 ? -errno : -EIO;
  close(fd);
  if (e == 0 && renameat(dir_fd, ACKED_TMP, dir_fd, ACKED_FILE) < 0)
    e = -errno;
  return e;
}

static int
sync_job_run(const SyncJob *job, int dir_fd)
{
  int e = 0;

  for (guint i = 0; i < job->fds->len; i++)
    if (fdatasync(g_array_index(job->fds, int, i)) < 0 && e == 0)
      e = -errno;
  if (job->write_acked && e == 0)
    e = write_acked(dir_fd, job->epoch, job->acked);
  if ((job->sync_dir || job->write_acked) && fsync(dir_fd) < 0 && e == 0)
    e = -errno;
  return e;
}

static void
syncer_report(Syncer *y, const SyncJob *job, int e)
{
  guint64 one = 1;

  g_mutex_lock(&y->lock);
  if (e < 0 && y->error == 0)
    y->error = e;
  if (e == 0)
    y->done_next = MAX(y->done_next, job->next);
  y->done = TRUE;
  g_mutex_unlock(&y->lock);
  if (write(y->event_fd, &one, sizeof(one)) < 0)
    g_debug("spool: eventfd: %s", g_strerror(errno));
}

static gpointer
syncer_thread(gpointer data)
{
  Syncer *y = data;

  for (;;) {
    g_autoptr(SyncJob) job = NULL;

    g_mutex_lock(&y->lock);
    while (y->job == NULL && !y->quit)
      g_cond_wait(&y->cond, &y->lock);
    job = g_steal_pointer(&y->job);
    g_mutex_unlock(&y->lock);
    if (job == NULL)
      return NULL;
    syncer_report(y, job, sync_job_run(job, y->dir_fd));
  }
}

/* ---- durability: the data plane's side ---- */

gboolean
tfst_spool_dirty(const TfstSpool *spool)
{
  return spool->data_dirty || spool->acked_dirty || spool->dir_dirty || spool->retired_fds->len > 0;
}

static SyncJob *
sync_job_take(TfstSpool *s)
{
  SyncJob *job = g_new0(SyncJob, 1);

  job->fds = g_steal_pointer(&s->retired_fds);
  s->retired_fds = g_array_new(FALSE, FALSE, sizeof(int));
  if (s->data_dirty && s->wfd >= 0) {
    int dup_fd = fcntl(s->wfd, F_DUPFD_CLOEXEC, 0);

    if (dup_fd >= 0)
      g_array_append_val(job->fds, dup_fd);
  }
  job->write_acked = s->acked_dirty;
  job->epoch = s->epoch;
  job->acked = s->first_seq - 1;
  job->sync_dir = s->dir_dirty;
  job->next = s->next_seq;
  s->data_dirty = s->acked_dirty = s->dir_dirty = FALSE;
  return job;
}

/* A job waiting behind a running one takes on the new one's work. */
static void
sync_job_merge(SyncJob *into, SyncJob *job)
{
  g_array_append_vals(into->fds, job->fds->data, job->fds->len);
  g_array_set_size(job->fds, 0);
  into->write_acked |= job->write_acked;
  into->epoch = job->epoch;
  into->acked = job->acked;
  into->sync_dir |= job->sync_dir;
  into->next = job->next;
  sync_job_free(job);
}

void
tfst_spool_sync_start(TfstSpool *spool)
{
  Syncer *y = &spool->sync;
  SyncJob *job;

  if (!tfst_spool_dirty(spool))
    return;
  job = sync_job_take(spool);
  g_mutex_lock(&y->lock);
  if (y->job != NULL)
    sync_job_merge(y->job, job);
  else
    y->job = job;
  g_cond_signal(&y->cond);
  g_mutex_unlock(&y->lock);
}

int
tfst_spool_sync_fd(const TfstSpool *spool)
{
  return spool->sync.event_fd;
}

int
tfst_spool_sync_finish(TfstSpool *spool, guint64 *durable_next)
{
  Syncer *y = &spool->sync;
  guint64 count;
  int e;

  if (read(y->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
    return -errno;
  g_mutex_lock(&y->lock);
  e = y->done ? y->error : -EAGAIN;
  if (y->done && e == 0)
    *durable_next = y->done_next;
  y->done = FALSE;
  y->error = 0;
  g_mutex_unlock(&y->lock);
  return e;
}

static void
syncer_stop(TfstSpool *s)
{
  Syncer *y = &s->sync;

  if (s->thread == NULL)
    return;
  g_mutex_lock(&y->lock);
  y->quit = TRUE;
  g_cond_signal(&y->cond);
  g_mutex_unlock(&y->lock);
  g_thread_join(g_steal_pointer(&s->thread));
}

/* ---- open, replay and free ---- */

void
tfst_spool_free(TfstSpool *spool)
{
  if (spool == NULL)
    return;
  /* what was acknowledged is not sent again after a restart */
  if (spool->thread != NULL)
    tfst_spool_sync_start(spool);
  syncer_stop(spool);
  if (spool->sync.job != NULL)
    sync_job_free(spool->sync.job);
  g_mutex_clear(&spool->sync.lock);
  g_cond_clear(&spool->sync.cond);
  close_fd(&spool->sync.event_fd);
  close_fd(&spool->sync.dir_fd);
  cursor_reset(&spool->rd);
  cursor_reset(&spool->head);
  g_free(spool->rd.buf);
  g_free(spool->head.buf);
  for (guint i = 0; i < spool->retired_fds->len; i++)
    close(g_array_index(spool->retired_fds, int, i));
  g_array_unref(spool->retired_fds);
  close_fd(&spool->wfd);
  close_fd(&spool->lock_fd);
  close_fd(&spool->dir_fd);
  g_array_unref(spool->segs);
  g_free(spool->dir);
  g_free(spool);
}

static TfstSpool *
spool_new(const char *dir, const TfstSpoolConf *conf)
{
  TfstSpool *s = g_new0(TfstSpool, 1);

  s->dir = g_strdup(dir);
  s->dir_fd = s->lock_fd = s->wfd = -1;
  s->conf = *conf;
  s->segs = g_array_new(FALSE, FALSE, sizeof(Segment));
  s->retired_fds = g_array_new(FALSE, FALSE, sizeof(int));
  s->rd.fd = s->head.fd = -1;
  s->rd.buf = g_malloc(CURSOR_BUF);
  s->head.buf = g_malloc(CURSOR_BUF);
  s->first_seq = s->next_seq = 1;
  g_mutex_init(&s->sync.lock);
  g_cond_init(&s->sync.cond);
  s->sync.dir_fd = s->sync.event_fd = -1;
  return s;
}

static gboolean
set_errno_error(GError **error, int e, const char *dir, const char *what)
{
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "spool %s: %s: %s", dir, what,
              g_strerror(e));
  return FALSE;
}

/* The directory (0700, parents too), writable, and ours alone. */
static gboolean
spool_lock(TfstSpool *s, GError **error)
{
  if (g_mkdir_with_parents(s->dir, 0700) < 0)
    return set_errno_error(error, errno, s->dir, "cannot create the directory");
  s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dir_fd < 0)
    return set_errno_error(error, errno, s->dir, "cannot open the directory");
  if (faccessat(s->dir_fd, ".", W_OK | X_OK, AT_EACCESS) < 0)
    return set_errno_error(error, errno, s->dir, "the directory is not writable");
  s->lock_fd = openat(s->dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0)
    return set_errno_error(error, errno, s->dir, "cannot create the lock file");
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK)
      errno = EBUSY;
    return set_errno_error(error, errno, s->dir, "locked by another process");
  }
  return TRUE;
}

static gboolean
spool_start_syncer(TfstSpool *s, GError **error)
{
  s->sync.dir_fd = fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 0);
  s->sync.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->sync.dir_fd < 0 || s->sync.event_fd < 0)
    return set_errno_error(error, errno, s->dir, "cannot set up syncing");
  s->thread = g_thread_try_new("tfst-spool-sync", syncer_thread, &s->sync, error);
  return s->thread != NULL;
}

/* A random non-zero number: far ends tell spools (and their restarts
 * after damage) apart by it. */
static guint64
new_epoch(void)
{
  guint64 e;

  do
    e = ((guint64)g_random_int() << 32) | g_random_int();
  while (e == 0);
  return e;
}

/* ---- replay ---- */

typedef struct {
  TfstSpool *s;
  GPtrArray *problems; /* may be NULL */
  gboolean damaged;    /* events were lost: the far end must not count on the numbering */
  GArray *epochs;      /* guint64: of the segments kept */
} Replay;

static void replay_problem(Replay *r, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
replay_problem(Replay *r, const char *format, ...)
{
  va_list ap;

  r->damaged = TRUE;
  if (r->problems == NULL)
    return;
  va_start(ap, format);
  g_ptr_array_add(r->problems, g_strdup_vprintf(format, ap));
  va_end(ap);
}

/* "<name>.damaged", or "<name>.N.damaged" when that exists already. */
static char *
damaged_name(int dir_fd, const char *name)
{
  char *out = g_strconcat(name, DAMAGED_SUFFIX, NULL);

  for (guint n = 1; faccessat(dir_fd, out, F_OK, 0) == 0 && n < DAMAGED_NAME_MAX; n++) {
    g_free(out);
    out = g_strdup_printf("%s.%u%s", name, n, DAMAGED_SUFFIX);
  }
  return out;
}

/* The whole file goes aside. */
static void
replay_move_aside(Replay *r, const char *name, const char *why)
{
  TfstSpool *s = r->s;
  g_autofree char *to = damaged_name(s->dir_fd, name);

  s->counters.damaged_files++;
  if (renameat(s->dir_fd, name, s->dir_fd, to) < 0) {
    replay_problem(r, "%s/%s: %s; cannot move it aside (%s), deleted", s->dir, name, why,
                   g_strerror(errno));
    unlinkat(s->dir_fd, name, 0);
  } else {
    replay_problem(r, "%s/%s: %s; moved to %s", s->dir, name, why, to);
  }
  s->dir_dirty = TRUE;
}

static int
copy_range(int from, int to, guint64 off, guint64 end, guint8 *buf)
{
  while (off < end) {
    ssize_t n = pread(from, buf, MIN((guint64)CURSOR_BUF, end - off), (off_t)off);

    if (n <= 0 || write(to, buf, (gsize)n) != n)
      return n == 0 ? -EIO : -errno;
    off += (guint64)n;
  }
  return fdatasync(to) < 0 ? -errno : 0;
}

/* The valid start stays; from off on the file is copied aside and cut. */
static void
replay_cut(Replay *r, int fd, const char *name, guint64 off, guint64 size, const char *why)
{
  TfstSpool *s = r->s;
  g_autofree char *to = damaged_name(s->dir_fd, name);
  int out = openat(s->dir_fd, to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int e = out < 0 ? -errno : copy_range(fd, out, off, size, s->rd.buf);

  close_fd(&out);
  s->counters.damaged_files++;
  if (ftruncate(fd, (off_t)off) < 0 || fdatasync(fd) < 0)
    e = e < 0 ? e : -errno;
  if (e < 0)
    replay_problem(r,
                   "%s/%s: %s at byte %" G_GUINT64_FORMAT "; the rest (%" G_GUINT64_FORMAT
                   " bytes) could not be kept aside: %s",
                   s->dir, name, why, off, size - off, g_strerror(-e));
  else
    replay_problem(r,
                   "%s/%s: %s at byte %" G_GUINT64_FORMAT "; the rest (%" G_GUINT64_FORMAT
                   " bytes) moved to %s",
                   s->dir, name, why, off, size - off, to);
}

/* Why the record at the cursor is not the next valid one, or NULL. */
static const char *
replay_record(TfstSpool *s, Segment *g, gint64 *rt)
{
  Cursor *c = &s->rd;
  TfstSpoolFormatRecord rec;
  const guint8 *p;

  if (g->bytes - c->off < REC_LEN || cursor_fill(c, g, c->off, REC_LEN, &p) < 0)
    return "truncated record";
  tfst_spool_format_record_decode(p, &rec);
  if (rec.len == 0 || rec.len > TFST_EVENT_MAX)
    return "bad record length";
  if (g->bytes - c->off - REC_LEN < rec.len || cursor_fill(c, g, c->off, REC_LEN + rec.len, &p) < 0)
    return "truncated record";
  if (!tfst_spool_format_record_check(&rec, p + REC_LEN))
    return "checksum mismatch";
  if (rec.seq != c->seq)
    return "sequence number out of order";
  *rt = rec.received_rt;
  c->off += REC_LEN + rec.len;
  c->seq++;
  return NULL;
}

/* Counts the valid records of g (fd at c); cuts the file at the first bad
 * one. */
static void
replay_records(Replay *r, int fd, const char *name, Segment *g)
{
  Cursor *c = &r->s->rd;
  guint64 size = g->bytes;

  c->fd = fd;
  c->seg_first = g->first;
  c->seq = g->first;
  c->off = HDR_LEN;
  c->buf_len = 0;
  while (c->off < size) {
    gint64 rt = 0;
    const char *why = replay_record(r->s, g, &rt);

    if (why != NULL) {
      replay_cut(r, fd, name, c->off, size, why);
      break;
    }
    if (c->seq == g->first + 1)
      g->first_rt = rt;
  }
  g->next = c->seq;
  g->bytes = c->off;
  c->fd = -1;
  c->buf_len = 0;
}

/* Why the header does not start the segment named `first` after what
 * was replayed so far, or NULL. */
static char *
replay_header_problem(Replay *r, int fd, guint64 first, TfstSpoolFormatHeader *h)
{
  const Segment *prev = seg_last(r->s);
  guint8 buf[HDR_LEN];
  int ret;

  if (pread(fd, buf, HDR_LEN, 0) != HDR_LEN)
    return g_strdup("no valid segment header (file too short)");
  ret = tfst_spool_format_header_decode(buf, h);
  if (ret == -EPROTONOSUPPORT)
    return g_strdup_printf("format version %u is newer than this tfstd's (%u)", h->version,
                           TFST_SPOOL_FORMAT_VERSION);
  if (ret < 0)
    return g_strdup("no valid segment header");
  if (h->first_seq != first)
    return g_strdup_printf("the header says it starts at event %" G_GUINT64_FORMAT, h->first_seq);
  if (prev != NULL && prev->next != first)
    return g_strdup_printf("the events before it end at %" G_GUINT64_FORMAT
                           ", a gap (events after a damaged file are kept aside, the "
                           "numbering must not jump)",
                           prev->next - 1);
  return NULL;
}

static int
replay_segment(Replay *r, guint64 first)
{
  TfstSpool *s = r->s;
  char name[SEG_DIGITS + sizeof(SEG_SUFFIX)];
  TfstSpoolFormatHeader h = {0};
  g_autofree char *why = NULL;
  Segment g = {first, first, 0, 0, 0};
  struct stat st;
  int fd;

  seg_name(first, name);
  fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0) {
    int e = -errno;

    close_fd(&fd);
    return e;
  }
  why = replay_header_problem(r, fd, first, &h);
  if (why != NULL) {
    close(fd);
    replay_move_aside(r, name, why);
    return 0;
  }
  g.epoch = h.epoch;
  g.bytes = (guint64)st.st_size;
  replay_records(r, fd, name, &g);
  close(fd);
  s->bytes += g.bytes;
  g_array_append_val(s->segs, g);
  g_array_append_val(r->epochs, g.epoch);
  return 0;
}

static int
compare_seq_cb(gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

  return x < y ? -1 : x > y;
}

/* The segment files in the directory, in order. */
static GArray *
replay_list(TfstSpool *s, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) dir = g_dir_open(s->dir, 0, &local);
  g_autoptr(GArray) firsts = g_array_new(FALSE, FALSE, sizeof(guint64));
  const char *name;

  if (dir == NULL) {
    g_set_error(error, G_IO_ERROR, local->code, "spool %s: %s", s->dir, local->message);
    return NULL;
  }
  while ((name = g_dir_read_name(dir)) != NULL) {
    guint64 first;

    if (seg_parse_name(name, &first))
      g_array_append_val(firsts, first);
  }
  g_array_sort(firsts, compare_seq_cb);
  return g_steal_pointer(&firsts);
}

/* "VERSION EPOCH ACKED\n"; FALSE when missing or unreadable. */
static gboolean
read_acked(TfstSpool *s, guint64 *epoch, guint64 *acked)
{
  g_autofree char *path = g_build_filename(s->dir, ACKED_FILE, NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) words = NULL;
  gsize len = 0;

  /* bounded: a stray large file there costs no memory */
  text = tfst_file_read(path, ACKED_FILE_MAX, &len, NULL);
  if (text == NULL)
    return FALSE;
  words = g_strsplit(g_strstrip(text), " ", -1);
  return g_strv_length(words) == 3 && strcmp(words[0], "1") == 0 &&
         g_ascii_string_to_unsigned(words[1], 10, 1, G_MAXUINT64, epoch, NULL) &&
         g_ascii_string_to_unsigned(words[2], 10, 0, G_MAXUINT64 - 1, acked, NULL);
}

/* Applies the acknowledgement recorded for one of the epochs kept. */
static void
replay_acked(Replay *r)
{
  TfstSpool *s = r->s;
  guint64 epoch, acked;
  gboolean known = FALSE;

  if (!read_acked(s, &epoch, &acked))
    return;
  for (guint i = 0; i < r->epochs->len; i++)
    known |= g_array_index(r->epochs, guint64, i) == epoch;
  if (!known || acked < s->first_seq)
    return;
  if (acked >= s->next_seq) {
    replay_problem(r,
                   "%s: events up to %" G_GUINT64_FORMAT " were acknowledged, but the spool "
                   "ends at %" G_GUINT64_FORMAT ": its end was lost",
                   s->dir, acked, s->next_seq - 1);
    acked = s->next_seq - 1;
  }
  s->first_seq = acked + 1;
  s->acked_dirty = TRUE;
}

/* After the replay: where appending goes on.  Damage gives a new epoch in
 * a new segment, so that the far end takes the numbers after the damage
 * for new events rather than for duplicates of lost ones. */
static int
replay_finish(Replay *r)
{
  TfstSpool *s = r->s;
  const Segment *last = seg_last(s);
  char name[SEG_DIGITS + sizeof(SEG_SUFFIX)];

  if (last != NULL && r->damaged && last->next == last->first) {
    /* an empty last segment has the new one's name: it is rewritten */
    s->bytes -= last->bytes;
    g_array_set_size(s->segs, s->segs->len - 1);
    last = NULL;
  }
  if (last == NULL || r->damaged) {
    s->epoch = new_epoch();
    return seg_create(s);
  }
  s->epoch = last->epoch;
  seg_name(last->first, name);
  s->wfd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
  return s->wfd < 0 ? neg_errno(errno) : 0;
}

static int
replay(Replay *r, GArray *firsts)
{
  TfstSpool *s = r->s;
  int ret;

  for (guint i = 0; i < firsts->len; i++) {
    ret = replay_segment(r, g_array_index(firsts, guint64, i));
    if (ret < 0)
      return ret;
  }
  if (s->segs->len > 0) {
    s->first_seq = seg_at(s, 0)->first;
    s->next_seq = seg_last(s)->next;
  }
  replay_acked(r);
  ret = replay_finish(r);
  if (ret < 0)
    return ret;
  trim_segments(s);
  return 0;
}

TfstSpool *
tfst_spool_open(const char *dir, const TfstSpoolConf *conf, GPtrArray *problems, GError **error)
{
  g_autoptr(TfstSpool) s = spool_new(dir, conf);
  g_autoptr(GArray) firsts = NULL;
  g_autoptr(GArray) epochs = g_array_new(FALSE, FALSE, sizeof(guint64));
  Replay r = {s, problems, FALSE, epochs};
  int ret;

  g_return_val_if_fail(dir != NULL && conf != NULL, NULL);
  if (!spool_lock(s, error))
    return NULL;
  unlinkat(s->dir_fd, ACKED_TMP, 0);
  firsts = replay_list(s, error);
  if (firsts == NULL)
    return NULL;
  ret = replay(&r, firsts);
  if (ret < 0) {
    set_errno_error(error, ret == -EDQUOT ? ENOSPC : -ret, dir, "cannot replay the spool");
    return NULL;
  }
  if (!spool_start_syncer(s, error))
    return NULL;
  return g_steal_pointer(&s);
}
