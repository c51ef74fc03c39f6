/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event spool on real files in a temporary directory: appending,
 * reading, trimming, replay after a clean close and after a kill, damaged
 * files, the SpoolFull= policies and syncing through the eventfd. */
#include "tfst-config.h"
#include "tfst-spool-format.h"
#include "tfst-spool.h"
#include "tfst-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIRST_SEG "00000000000000000001.seg"

typedef struct {
  char *tmp; /* removed at the end */
  char *dir; /* the spool, below tmp */
  TfstSpoolConf conf;
  GPtrArray *problems;
  guint8 *buf;
} Fixture;

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fx->tmp = g_dir_make_tmp("tfst-spool-XXXXXX", &error);
  g_assert_no_error(error);
  fx->dir = g_build_filename(fx->tmp, "gwproxy@t.spool", "syslog", NULL);
  fx->conf.max_bytes = TFST_DEFAULT_SPOOL_SIZE;
  fx->conf.sync_ms = TFST_DEFAULT_SPOOL_SYNC_MS;
  fx->conf.full = TFST_SPOOL_FULL_DROP_OLDEST;
  fx->problems = g_ptr_array_new_with_free_func(g_free);
  fx->buf = g_malloc(TFST_EVENT_MAX);
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
  tfst_test_remove_tree(fx->tmp);
  g_free(fx->tmp);
  g_free(fx->dir);
  g_ptr_array_unref(fx->problems);
  g_free(fx->buf);
}

static TfstSpool *
spool_open(Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  TfstSpool *s = tfst_spool_open(fx->dir, &fx->conf, fx->problems, &error);

  g_assert_no_error(error);
  g_assert_nonnull(s);
  return s;
}

/* Event i: its number in text, then a pattern; 1 to 400 bytes. */
static gsize
make_event(guint64 i, guint8 *buf)
{
  gsize len = 1 + (i * 37) % 400;
  char head[32];
  gsize n = (gsize)g_snprintf(head, sizeof(head), "ev%" G_GUINT64_FORMAT ";", i);

  for (gsize j = 0; j < len; j++)
    buf[j] = j < n ? (guint8)head[j] : (guint8)(i + j);
  return len;
}

static void
append_events(TfstSpool *s, guint64 from, guint64 n)
{
  guint8 buf[512];

  for (guint64 i = from; i < from + n; i++) {
    gsize len = make_event(i, buf);
    guint64 seq = 0;

    g_assert_cmpint(tfst_spool_append(s, buf, len, (gint64)i * 1000, &seq), ==, 0);
    g_assert_cmpuint(seq, ==, i);
  }
}

/* Reads seq ... seq+n-1 and checks each is event seq. */
static void
assert_events(Fixture *fx, TfstSpool *s, guint64 seq, guint64 n)
{
  guint8 want[512];

  for (guint64 i = seq; i < seq + n; i++) {
    guint64 at = i;
    gsize len = 0;
    gint64 rt = 0;
    gsize want_len = make_event(i, want);

    g_assert_cmpint(tfst_spool_read(s, &at, fx->buf, TFST_EVENT_MAX, &len, &rt), ==, 0);
    g_assert_cmpuint(at, ==, i + 1);
    g_assert_cmpmem(fx->buf, len, want, want_len);
    g_assert_cmpint(rt, ==, (gint64)i * 1000);
  }
}

static guint
count_files(Fixture *fx, const char *suffix)
{
  g_autoptr(GDir) dir = g_dir_open(fx->dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL)
    n += g_str_has_suffix(name, suffix);
  return n;
}

static char *
file_path(Fixture *fx, const char *name)
{
  return g_build_filename(fx->dir, name, NULL);
}

static void
assert_problem(Fixture *fx, guint i, const char *expect)
{
  g_assert_cmpuint(fx->problems->len, >, i);
  if (strstr(g_ptr_array_index(fx->problems, i), expect) == NULL)
    g_error("expected '%s' in '%s'", expect, (char *)g_ptr_array_index(fx->problems, i));
}

/* Waits (bounded) for the sync to complete and returns its result. */
static int
sync_wait(TfstSpool *s, guint64 *durable)
{
  GPollFD p = {tfst_spool_sync_fd(s), G_IO_IN, 0};
  int ret = -EAGAIN;
  gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

  while (ret == -EAGAIN && g_get_monotonic_time() < deadline) {
    g_poll(&p, 1, 1000);
    ret = tfst_spool_sync_finish(s, durable);
  }
  return ret;
}

/* ---- the basics ---- */

static void
test_append_read(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint64 seq = 1;
  gsize len;
  gint64 rt;

  g_assert_cmpuint(tfst_spool_first_seq(s), ==, 1);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 1);
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, 0);
  g_assert_cmpuint(tfst_spool_epoch(s), !=, 0);
  g_assert_cmpint(tfst_spool_read(s, &seq, fx->buf, TFST_EVENT_MAX, &len, &rt), ==, -ENOENT);
  append_events(s, 1, 1000);
  g_assert_cmpuint(tfst_spool_events(s), ==, 1000);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, 1000);
  assert_events(fx, s, 1, 1000);
  /* back again (a resend), then from the middle */
  assert_events(fx, s, 1, 10);
  assert_events(fx, s, 500, 501);
  seq = 1001;
  g_assert_cmpint(tfst_spool_read(s, &seq, fx->buf, TFST_EVENT_MAX, &len, &rt), ==, -ENOENT);
  seq = 0;
  g_assert_cmpint(tfst_spool_read(s, &seq, fx->buf, TFST_EVENT_MAX, &len, &rt), ==, -ENOENT);
  /* a buffer too small for the event */
  seq = 2;
  g_assert_cmpint(tfst_spool_read(s, &seq, fx->buf, 3, &len, &rt), ==, -EMSGSIZE);
  g_assert_cmpuint(seq, ==, 2);
  g_assert_cmpuint(fx->problems->len, ==, 0);
  g_assert_cmpuint(count_files(fx, ".damaged"), ==, 0);
}

static void
test_trim_reopen(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint64 epoch = tfst_spool_epoch(s);
  guint64 seq = 100;
  gsize len;
  gint64 rt;

  append_events(s, 1, 1000);
  tfst_spool_trim(s, 500);
  g_assert_cmpuint(tfst_spool_first_seq(s), ==, 501);
  g_assert_cmpuint(tfst_spool_events(s), ==, 500);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, 501000);
  g_assert_cmpint(tfst_spool_read(s, &seq, fx->buf, TFST_EVENT_MAX, &len, &rt), ==, -ENOENT);
  assert_events(fx, s, 501, 10);
  /* an older acknowledgement changes nothing; one beyond the end is clamped */
  tfst_spool_trim(s, 100);
  g_assert_cmpuint(tfst_spool_first_seq(s), ==, 501);
  g_clear_pointer(&s, tfst_spool_free);

  /* acknowledged events are not replayed; numbering and epoch go on */
  s = spool_open(fx);
  g_assert_cmpuint(tfst_spool_epoch(s), ==, epoch);
  g_assert_cmpuint(tfst_spool_first_seq(s), ==, 501);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 1001);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, 501000);
  assert_events(fx, s, 501, 500);
  append_events(s, 1001, 10);
  assert_events(fx, s, 995, 16);
  tfst_spool_trim(s, 5000);
  g_assert_cmpuint(tfst_spool_first_seq(s), ==, 1011);
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, 0);
  g_clear_pointer(&s, tfst_spool_free);

  s = spool_open(fx);
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 1011);
  g_assert_cmpuint(fx->problems->len, ==, 0);
}

/* Acknowledged as fast as appended (the usual state): the spool stays
 * empty and each trim costs little, also deep into a segment. */
static gint64
steady_round(Fixture *fx, TfstSpool *s, guint64 from, guint64 n)
{
  gint64 t0 = g_get_monotonic_time();

  for (guint64 i = from; i < from + n; i++) {
    append_events(s, i, 1);
    assert_events(fx, s, i, 1);
    tfst_spool_trim(s, i);
    g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  }
  return g_get_monotonic_time() - t0;
}

static void
test_steady_state(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  gint64 early = steady_round(fx, s, 1, 2000);
  gint64 late;

  steady_round(fx, s, 2001, 16000);
  late = steady_round(fx, s, 18001, 2000);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, 0);
  append_events(s, 20001, 1);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, 20001000);
  /* a rescan from the start of the segment at every trim would make the
   * late round ~20 times slower than the early one (all in one segment) */
  g_assert_cmpuint(count_files(fx, ".seg"), ==, 1);
  g_test_message("2000 append+read+trim: %" G_GINT64_FORMAT " us early, %" G_GINT64_FORMAT
                 " us late",
                 early, late);
  g_assert_cmpint(late, <, 4 * early + 100000);
}

/* Small segments: a new file when one is full, whole files deleted once
 * acknowledged, bytes on disk counted. */
static void
test_segments(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = NULL;
  struct stat st;
  guint64 on_disk = 0;
  g_autoptr(GDir) dir = NULL;
  const char *name;

  fx->conf.max_bytes = 1024 * 1024; /* segments of 128K */
  s = spool_open(fx);
  append_events(s, 1, 3000); /* about 670K */
  g_assert_cmpuint(count_files(fx, ".seg"), >=, 5);
  dir = g_dir_open(fx->dir, 0, NULL);
  while ((name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *path = file_path(fx, name);

    if (g_str_has_suffix(name, ".seg")) {
      g_assert_cmpint(g_stat(path, &st), ==, 0);
      g_assert_cmpint(st.st_size, <=, 128 * 1024);
      on_disk += (guint64)st.st_size;
    }
  }
  g_assert_cmpuint(tfst_spool_bytes(s), ==, on_disk);
  assert_events(fx, s, 1, 3000);
  tfst_spool_trim(s, 2999);
  g_assert_cmpuint(count_files(fx, ".seg"), ==, 1);
  g_assert_cmpuint(tfst_spool_bytes(s), <=, 128 * 1024);
  assert_events(fx, s, 3000, 1);
  tfst_spool_trim(s, 3000);
  /* the last file stays (it carries the numbering) */
  g_assert_cmpuint(count_files(fx, ".seg"), ==, 1);
  g_clear_pointer(&s, tfst_spool_free);
  s = spool_open(fx);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 3001);
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
}

static void
test_msgsize(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  g_autofree guint8 *big = g_malloc(TFST_EVENT_MAX + 1);
  guint64 seq = 0;
  gsize len = 0;
  gint64 rt = 0;

  memset(big, 'x', TFST_EVENT_MAX + 1);
  g_assert_cmpint(tfst_spool_append(s, big, 0, 1, &seq), ==, -EMSGSIZE);
  g_assert_cmpint(tfst_spool_append(s, big, TFST_EVENT_MAX + 1, 1, &seq), ==, -EMSGSIZE);
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  big[TFST_EVENT_MAX - 1] = 'y';
  g_assert_cmpint(tfst_spool_append(s, big, TFST_EVENT_MAX, 7, &seq), ==, 0);
  g_assert_cmpint(tfst_spool_append(s, big, 1, 8, &seq), ==, 0);
  seq = 1;
  g_assert_cmpint(tfst_spool_read(s, &seq, fx->buf, TFST_EVENT_MAX, &len, &rt), ==, 0);
  g_assert_cmpmem(fx->buf, len, big, TFST_EVENT_MAX);
  g_assert_cmpint(rt, ==, 7);
  g_assert_cmpint(tfst_spool_read(s, &seq, fx->buf, TFST_EVENT_MAX, &len, &rt), ==, 0);
  g_assert_cmpuint(len, ==, 1);
  g_assert_cmpuint(seq, ==, 3);
}

/* ---- SpoolFull= ---- */

static void
fill(TfstSpool *s, guint64 from, guint64 n, guint *refused)
{
  guint8 buf[1000];

  memset(buf, 'e', sizeof(buf));
  *refused = 0;
  for (guint64 i = 0; i < n; i++) {
    guint64 seq;
    int ret = tfst_spool_append(s, buf, sizeof(buf), (gint64)(from + i), &seq);

    g_assert_true(ret == 0 || ret == -ENOSPC);
    *refused += ret == -ENOSPC;
  }
}

static void
test_full_drop_oldest(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = NULL;
  guint refused;

  fx->conf.max_bytes = 1024 * 1024;
  s = spool_open(fx);
  fill(s, 1, 3000, &refused); /* 3M into 1M */
  g_assert_cmpuint(refused, ==, 0);
  g_assert_cmpuint(tfst_spool_bytes(s), <=, 1024 * 1024);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 3001);
  g_assert_cmpuint(tfst_spool_first_seq(s), >, 1);
  /* what went is counted, the rest is held */
  g_assert_cmpuint(tfst_spool_counters(s)->dropped_oldest, ==, tfst_spool_first_seq(s) - 1);
  g_assert_cmpuint(tfst_spool_events(s), >, 700);
  g_assert_cmpint(tfst_spool_oldest_rt(s), ==, (gint64)tfst_spool_first_seq(s));
  /* acknowledged events are not counted as dropped */
  tfst_spool_trim(s, tfst_spool_first_seq(s) + 99);
  {
    guint64 before = tfst_spool_counters(s)->dropped_oldest;
    guint64 held = tfst_spool_first_seq(s);

    fill(s, 3001, 200, &refused);
    g_assert_cmpuint(tfst_spool_counters(s)->dropped_oldest, ==,
                     before + tfst_spool_first_seq(s) - held);
  }
}

static void
test_full_refuse(Fixture *fx, gconstpointer data)
{
  const TfstSpoolFull policies[] = {TFST_SPOOL_FULL_DROP_NEWEST, TFST_SPOOL_FULL_BLOCK};

  fx->conf.max_bytes = 1024 * 1024;
  for (gsize i = 0; i < G_N_ELEMENTS(policies); i++) {
    g_autofree char *name = g_strdup_printf("p%zu", i);
    g_autoptr(TfstSpool) s = NULL;
    guint refused;
    guint64 seq;

    g_free(fx->dir);
    fx->dir = g_build_filename(fx->tmp, name, NULL);
    fx->conf.full = policies[i];
    s = spool_open(fx);
    fill(s, 1, 3000, &refused);
    g_assert_cmpuint(refused, >, 1900);
    g_assert_cmpuint(tfst_spool_first_seq(s), ==, 1);
    g_assert_cmpuint(tfst_spool_events(s), ==, 3000 - refused);
    g_assert_cmpuint(tfst_spool_bytes(s), <=, 1024 * 1024);
    g_assert_cmpuint(tfst_spool_counters(s)->dropped_oldest, ==, 0);
    g_assert_false(tfst_spool_has_room(s, 1000));
    /* an acknowledgement makes room */
    tfst_spool_trim(s, tfst_spool_next_seq(s) - 1);
    g_assert_true(tfst_spool_has_room(s, 1000));
    g_assert_cmpint(tfst_spool_append(s, (const guint8 *)"x", 1, 1, &seq), ==, 0);
    /* a reload switches to drop-oldest */
    fx->conf.full = TFST_SPOOL_FULL_DROP_OLDEST;
    tfst_spool_set_conf(s, &fx->conf);
    fill(s, 1, 3000, &refused);
    g_assert_cmpuint(refused, ==, 0);
  }
}

/* A smaller SpoolSize= at a reload applies to what comes next. */
static void
test_set_conf(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint refused;

  fill(s, 1, 3000, &refused);
  g_assert_cmpuint(tfst_spool_bytes(s), >, 2 * 1024 * 1024);
  fx->conf.max_bytes = 1024 * 1024;
  fx->conf.full = TFST_SPOOL_FULL_DROP_NEWEST;
  tfst_spool_set_conf(s, &fx->conf);
  fill(s, 3001, 10, &refused);
  g_assert_cmpuint(refused, ==, 10);
  fx->conf.full = TFST_SPOOL_FULL_DROP_OLDEST;
  tfst_spool_set_conf(s, &fx->conf);
  fill(s, 3001, 10, &refused);
  g_assert_cmpuint(refused, ==, 0);
  g_assert_cmpuint(tfst_spool_bytes(s), <=, 1024 * 1024);
}

/* ---- durability ---- */

static void
test_sync(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  g_autofree char *acked = file_path(fx, "acked");
  g_autofree char *text = NULL;
  g_autofree char *expect = NULL;
  guint64 durable = 0;

  /* creating the first segment is something to sync (the directory) */
  g_assert_true(tfst_spool_dirty(s));
  tfst_spool_sync_start(s);
  g_assert_false(tfst_spool_dirty(s));
  g_assert_cmpint(sync_wait(s, &durable), ==, 0);
  g_assert_cmpuint(durable, ==, 1);
  g_assert_cmpint(tfst_spool_sync_finish(s, &durable), ==, -EAGAIN);
  tfst_spool_sync_start(s); /* nothing dirty: nothing happens */
  g_assert_cmpint(tfst_spool_sync_finish(s, &durable), ==, -EAGAIN);

  append_events(s, 1, 100);
  g_assert_true(tfst_spool_dirty(s));
  tfst_spool_sync_start(s);
  append_events(s, 101, 50);
  tfst_spool_sync_start(s); /* follows (or joins) the running one */
  g_assert_false(tfst_spool_dirty(s));
  while (durable < 151)
    g_assert_cmpint(sync_wait(s, &durable), ==, 0);
  g_assert_cmpuint(durable, ==, 151);
  g_assert_false(g_file_test(acked, G_FILE_TEST_EXISTS));

  /* the acknowledgement is written at the next sync */
  tfst_spool_trim(s, 120);
  g_assert_true(tfst_spool_dirty(s));
  tfst_spool_sync_start(s);
  g_assert_cmpint(sync_wait(s, &durable), ==, 0);
  g_assert_true(g_file_get_contents(acked, &text, NULL, NULL));
  expect = g_strdup_printf("1 %" G_GUINT64_FORMAT " 120\n", tfst_spool_epoch(s));
  g_assert_cmpstr(text, ==, expect);
}

/* kill -9 right after appending, without a sync: the page cache keeps
 * every event, replay finds them all.  An acknowledgement not yet synced
 * is lost, so acknowledged events come again (at least once). */
static void
test_kill(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  int status = 0;
  pid_t pid;

  append_events(s, 1, 100);
  tfst_spool_trim(s, 50);
  tfst_spool_sync_start(s);
  g_assert_cmpint(sync_wait(s, &(guint64){0}), ==, 0);
  g_clear_pointer(&s, tfst_spool_free);

  pid = fork();
  g_assert_cmpint(pid, >=, 0);
  if (pid == 0) {
    TfstSpool *c = tfst_spool_open(fx->dir, &fx->conf, NULL, NULL);

    if (c == NULL)
      _exit(2);
    append_events(c, 101, 5000);
    tfst_spool_trim(c, 4000);
    kill(getpid(), SIGKILL);
    _exit(3);
  }
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  g_assert_true(WIFSIGNALED(status));
  g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);

  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 0);
  g_assert_cmpuint(tfst_spool_first_seq(s), ==, 51);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 5101);
  assert_events(fx, s, 51, 5050);
}

/* A write that fails half way (here: the file size limit, as a full disk
 * would) leaves no torn record: the next append goes to the same place. */
static void
write_failure_child(Fixture *fx)
{
  TfstSpool *s = tfst_spool_open(fx->dir, &fx->conf, NULL, NULL);
  struct rlimit rl = {0};
  guint8 big[3000];
  guint64 seq = 0;
  int ret = 0;

  signal(SIGXFSZ, SIG_IGN);
  append_events(s, 1, 10);
  getrlimit(RLIMIT_FSIZE, &rl);
  rl.rlim_cur = tfst_spool_bytes(s) + 1000; /* the next big record is cut */
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &rl), ==, 0);
  memset(big, 'b', sizeof(big));
  ret = tfst_spool_append(s, big, sizeof(big), 1, &seq);
  g_assert_cmpint(ret, <, 0);
  g_assert_cmpint(ret, !=, -ENOSPC);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 11);
  rl.rlim_cur = rl.rlim_max;
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &rl), ==, 0);
  append_events(s, 11, 5);
  assert_events(fx, s, 1, 15);
  tfst_spool_free(s);
  _exit(0);
}

static void
test_write_failure(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = NULL;
  int status = -1;
  pid_t pid = fork();

  g_assert_cmpint(pid, >=, 0);
  if (pid == 0)
    write_failure_child(fx);
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 0);
  assert_events(fx, s, 1, 15);
}

/* Two processes (or two opens) never share a spool. */
static void
test_lock(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstSpool) again = tfst_spool_open(fx->dir, &fx->conf, NULL, &error);

  g_assert_null(again);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_nonnull(strstr(error->message, fx->dir));
  g_assert_nonnull(strstr(error->message, "locked by another process"));
  g_clear_pointer(&s, tfst_spool_free);
  again = spool_open(fx);
}

/* As root no permission stops us: a file where the directory should be
 * does. */
static void
test_unwritable(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstSpool) s = NULL;
  g_autofree char *parent = g_path_get_dirname(fx->dir);

  if (geteuid() == 0) {
    g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
    g_assert_true(g_file_set_contents(fx->dir, "x", 1, NULL));
  } else {
    g_assert_cmpint(g_mkdir_with_parents(fx->dir, 0700), ==, 0);
    g_assert_cmpint(g_chmod(fx->dir, 0500), ==, 0);
  }
  s = tfst_spool_open(fx->dir, &fx->conf, fx->problems, &error);
  g_assert_null(s);
  g_assert_nonnull(error);
  g_assert_true(error->domain == G_IO_ERROR);
  g_assert_nonnull(strstr(error->message, fx->dir));
  g_test_message("%s", error->message);
}

/* ---- damage ---- */

static void
truncate_file(Fixture *fx, const char *name, goffset cut)
{
  g_autofree char *path = file_path(fx, name);
  struct stat st;

  g_assert_cmpint(g_stat(path, &st), ==, 0);
  g_assert_cmpint(truncate(path, st.st_size - cut), ==, 0);
}

static void
write_at(Fixture *fx, const char *name, goffset off, const void *data, gsize len)
{
  g_autofree char *path = file_path(fx, name);
  int fd = open(path, O_WRONLY);

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(pwrite(fd, data, len, off), ==, (gssize)len);
  close(fd);
}

static void
test_truncated_tail(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint64 epoch = tfst_spool_epoch(s);
  g_autofree char *damaged = file_path(fx, FIRST_SEG ".damaged");
  gsize damaged_len = 0;
  g_autofree char *tail = NULL;

  append_events(s, 1, 100);
  g_clear_pointer(&s, tfst_spool_free);
  truncate_file(fx, FIRST_SEG, 3); /* event 100 loses its last bytes */

  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 1);
  assert_problem(fx, 0, FIRST_SEG);
  assert_problem(fx, 0, "truncated record");
  assert_problem(fx, 0, "moved to " FIRST_SEG ".damaged");
  g_assert_cmpuint(tfst_spool_counters(s)->damaged_files, ==, 1);
  g_assert_cmpuint(tfst_spool_events(s), ==, 99);
  assert_events(fx, s, 1, 99);
  /* the torn record is kept aside; new events get a new epoch */
  g_assert_true(g_file_get_contents(damaged, &tail, &damaged_len, NULL));
  g_assert_cmpuint(damaged_len, ==, 24 + make_event(100, fx->buf) - 3);
  g_assert_cmpuint(tfst_spool_epoch(s), !=, epoch);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 100);
  append_events(s, 100, 5);
  g_clear_pointer(&s, tfst_spool_free);

  /* a second opening finds nothing wrong */
  g_ptr_array_set_size(fx->problems, 0);
  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 0);
  assert_events(fx, s, 1, 104);
}

/* The only event is torn: the segment is left empty and is started
 * afresh under its own name, with a new epoch. */
static void
test_torn_only_event(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint64 epoch = tfst_spool_epoch(s);

  append_events(s, 1, 1);
  g_clear_pointer(&s, tfst_spool_free);
  truncate_file(fx, FIRST_SEG, 1);
  s = spool_open(fx);
  assert_problem(fx, 0, "truncated record");
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 1);
  g_assert_cmpuint(tfst_spool_epoch(s), !=, epoch);
  g_assert_cmpuint(tfst_spool_bytes(s), ==, TFST_SPOOL_FORMAT_HEADER_LEN);
  g_assert_cmpuint(count_files(fx, ".seg"), ==, 1);
  epoch = tfst_spool_epoch(s);
  append_events(s, 1, 2);
  g_clear_pointer(&s, tfst_spool_free);
  g_ptr_array_set_size(fx->problems, 0);
  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 0);
  g_assert_cmpuint(tfst_spool_epoch(s), ==, epoch);
  assert_events(fx, s, 1, 2);
}

static void
test_flipped_byte(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint8 buf[512];
  goffset off = TFST_SPOOL_FORMAT_HEADER_LEN;
  guint8 x = 0xff;

  append_events(s, 1, 100);
  g_clear_pointer(&s, tfst_spool_free);
  for (guint64 i = 1; i < 40; i++)
    off += TFST_SPOOL_FORMAT_RECORD_LEN + (goffset)make_event(i, buf);
  write_at(fx, FIRST_SEG, off + TFST_SPOOL_FORMAT_RECORD_LEN + 2, &x, 1); /* in event 40 */

  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 1);
  assert_problem(fx, 0, "checksum mismatch");
  g_assert_cmpuint(tfst_spool_events(s), ==, 39);
  assert_events(fx, s, 1, 39);
  g_assert_cmpuint(count_files(fx, ".damaged"), ==, 1);
}

/* A damaged length field is not followed into the rest of the file. */
static void
test_bad_length(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint8 buf[512];
  goffset off = TFST_SPOOL_FORMAT_HEADER_LEN + TFST_SPOOL_FORMAT_RECORD_LEN;
  const guint8 len[4] = {0xff, 0xff, 0xff, 0x7f};

  append_events(s, 1, 10);
  g_clear_pointer(&s, tfst_spool_free);
  off += (goffset)make_event(1, buf);
  write_at(fx, FIRST_SEG, off, len, sizeof(len));
  s = spool_open(fx);
  assert_problem(fx, 0, "bad record length");
  g_assert_cmpuint(tfst_spool_events(s), ==, 1);
}

static void
test_garbage_file(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = NULL;
  g_autofree char *path = file_path(fx, FIRST_SEG);
  g_autofree char *junk = g_strnfill(5000, 'j');

  g_assert_cmpint(g_mkdir_with_parents(fx->dir, 0700), ==, 0);
  g_assert_true(g_file_set_contents(path, junk, -1, NULL));
  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 1);
  assert_problem(fx, 0, "no valid segment header; moved to");
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  g_assert_cmpuint(tfst_spool_next_seq(s), ==, 1);
  g_assert_cmpuint(count_files(fx, ".damaged"), ==, 1);
  append_events(s, 1, 3);
  assert_events(fx, s, 1, 3);
}

static void
test_newer_version(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  TfstSpoolFormatHeader h = {TFST_SPOOL_FORMAT_VERSION + 1, 77, 1};
  guint8 hdr[TFST_SPOOL_FORMAT_HEADER_LEN];

  append_events(s, 1, 10);
  g_clear_pointer(&s, tfst_spool_free);
  tfst_spool_format_header_encode(&h, hdr);
  write_at(fx, FIRST_SEG, 0, hdr, sizeof(hdr));
  s = spool_open(fx);
  assert_problem(fx, 0, "format version 2 is newer than this tfstd's (1); moved to");
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  g_assert_cmpuint(count_files(fx, ".damaged"), ==, 1);
  /* moved aside as a whole: the file is still there to look at */
  {
    g_autofree char *path = file_path(fx, FIRST_SEG ".damaged");
    struct stat st;

    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, >, 10 * 24);
  }
}

/* Damage in an earlier file: its valid start is kept, the files after it
 * go aside so that the numbering has no gap. */
static void
test_damage_before_gap(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = NULL;
  guint8 junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  guint segs;

  fx->conf.max_bytes = 1024 * 1024;
  s = spool_open(fx);
  append_events(s, 1, 2000);
  segs = count_files(fx, ".seg");
  g_assert_cmpuint(segs, >=, 3);
  g_clear_pointer(&s, tfst_spool_free);
  write_at(fx, FIRST_SEG, 5000, junk, sizeof(junk));

  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, segs);
  assert_problem(fx, 1, "a gap");
  g_assert_cmpuint(count_files(fx, ".damaged"), ==, segs);
  g_assert_cmpuint(tfst_spool_first_seq(s), ==, 1);
  g_assert_cmpuint(tfst_spool_events(s), >, 5);
  assert_events(fx, s, 1, tfst_spool_events(s));
  g_assert_cmpuint(tfst_spool_counters(s)->damaged_files, ==, segs);
}

/* An acknowledgement beyond what the files hold (their end was lost):
 * nothing is replayed and the epoch changes. */
static void
test_acked_beyond_end(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint64 epoch = tfst_spool_epoch(s);
  g_autofree char *acked = file_path(fx, "acked");
  g_autofree char *text = NULL;

  append_events(s, 1, 10);
  g_clear_pointer(&s, tfst_spool_free);
  text = g_strdup_printf("1 %" G_GUINT64_FORMAT " 20\n", epoch);
  g_assert_true(g_file_set_contents(acked, text, -1, NULL));
  s = spool_open(fx);
  assert_problem(fx, 0, "up to 20 were acknowledged");
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
  g_assert_cmpuint(tfst_spool_epoch(s), !=, epoch);
  g_clear_pointer(&s, tfst_spool_free);

  /* an acked file of another spool (epoch) is ignored */
  g_ptr_array_set_size(fx->problems, 0);
  g_assert_true(g_file_set_contents(acked, "1 12345 5\n", -1, NULL));
  s = spool_open(fx);
  g_assert_cmpuint(fx->problems->len, ==, 0);
  g_assert_cmpuint(tfst_spool_events(s), ==, 0);
}

/* ---- the format ---- */

static void
test_format(void)
{
  const guint8 check[] = "123456789";
  TfstSpoolFormatHeader h = {TFST_SPOOL_FORMAT_VERSION, 0x0102030405060708ull, 42}, out = {0};
  guint8 hdr[TFST_SPOOL_FORMAT_HEADER_LEN];
  TfstSpoolFormatRecord r = {5, 0, 9, -3}, back;
  guint8 rec[TFST_SPOOL_FORMAT_RECORD_LEN];

  /* the CRC-32C check value */
  g_assert_cmphex(tfst_spool_format_crc32c(0, check, 9), ==, 0xe3069283);
  tfst_spool_format_header_encode(&h, hdr);
  g_assert_cmpmem(hdr, 8, "TFSTSPL\n", 8);
  g_assert_cmpint(tfst_spool_format_header_decode(hdr, &out), ==, 0);
  g_assert_cmpuint(out.epoch, ==, h.epoch);
  g_assert_cmpuint(out.first_seq, ==, 42);
  hdr[15] ^= 1;
  g_assert_cmpint(tfst_spool_format_header_decode(hdr, &out), ==, -EBADMSG);
  tfst_spool_format_record_encode(&r, (const guint8 *)"hello", rec);
  tfst_spool_format_record_decode(rec, &back);
  g_assert_cmpuint(back.len, ==, 5);
  g_assert_cmpuint(back.seq, ==, 9);
  g_assert_cmpint(back.received_rt, ==, -3);
  g_assert_true(tfst_spool_format_record_check(&back, (const guint8 *)"hello"));
  g_assert_false(tfst_spool_format_record_check(&back, (const guint8 *)"hellO"));
  back.len = 4;
  g_assert_false(tfst_spool_format_record_check(&back, (const guint8 *)"hello"));
}

/* ---- throughput (-m perf only: a number, not a test) ---- */

static void
test_throughput(Fixture *fx, gconstpointer data)
{
  g_autoptr(TfstSpool) s = spool_open(fx);
  guint8 buf[200];
  const guint n = 500000;
  gint64 t0 = g_get_monotonic_time();
  double secs;

  if (!g_test_perf()) {
    g_test_skip("a measurement: run with -m perf");
    return;
  }
  memset(buf, 's', sizeof(buf));
  for (guint i = 0; i < n; i++) {
    guint64 seq;

    g_assert_cmpint(tfst_spool_append(s, buf, sizeof(buf), i, &seq), ==, 0);
    if (i % 10000 == 0)
      tfst_spool_sync_start(s);
    if (i % 1000 == 999)
      tfst_spool_trim(s, seq - 500);
  }
  secs = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
  g_test_minimized_result(secs, "%u appends of 200 bytes in %.2f s: %.0f events/s", n, secs,
                          n / secs);
}

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/spool/format", test_format);
  ADD("/tfst/spool/append-read", test_append_read);
  ADD("/tfst/spool/trim-reopen", test_trim_reopen);
  ADD("/tfst/spool/steady-state", test_steady_state);
  ADD("/tfst/spool/segments", test_segments);
  ADD("/tfst/spool/msgsize", test_msgsize);
  ADD("/tfst/spool/full-drop-oldest", test_full_drop_oldest);
  ADD("/tfst/spool/full-refuse", test_full_refuse);
  ADD("/tfst/spool/set-conf", test_set_conf);
  ADD("/tfst/spool/sync", test_sync);
  ADD("/tfst/spool/kill", test_kill);
  ADD("/tfst/spool/write-failure", test_write_failure);
  ADD("/tfst/spool/lock", test_lock);
  ADD("/tfst/spool/unwritable", test_unwritable);
  ADD("/tfst/spool/truncated-tail", test_truncated_tail);
  ADD("/tfst/spool/torn-only-event", test_torn_only_event);
  ADD("/tfst/spool/flipped-byte", test_flipped_byte);
  ADD("/tfst/spool/bad-length", test_bad_length);
  ADD("/tfst/spool/garbage-file", test_garbage_file);
  ADD("/tfst/spool/newer-version", test_newer_version);
  ADD("/tfst/spool/damage-before-gap", test_damage_before_gap);
  ADD("/tfst/spool/acked-beyond-end", test_acked_beyond_end);
  ADD("/tfst/spool/throughput", test_throughput);
  return g_test_run();
}
