/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging: structured journal entries (TFST_* fields, MESSAGE_ID, ERRNO)
 * when stderr is connected to journald, one plain line on stderr otherwise.
 * docs/systemd.md lists the fields and every message id (lint test
 * msgid-table), units/tfst.catalog explains each id (journal-catalog).
 * Journal messages are not translated: administrators grep them. */
#pragma once

#include "tfst-ratelimit.h"

#include <glib.h>
#include <syslog.h>

/* Where lines go (org.freedesktop.LogControl1's LogTarget). */
typedef enum {
  TFST_LOG_TARGET_AUTO,    /* the journal when stderr is connected to it, else stderr */
  TFST_LOG_TARGET_JOURNAL, /* structured entries, even when stderr is elsewhere */
  TFST_LOG_TARGET_CONSOLE, /* plain lines on stderr */
  TFST_LOG_TARGET_NULL,    /* nowhere */
} TfstLogTarget;

/* The identifier journal entries carry (SYSLOG_IDENTIFIER=). */
#define TFST_LOG_SYSLOG_IDENTIFIER "tfstd"

typedef struct {
  const char *role;
  const char *instance;
  const char *label;
  /* The least important syslog priority logged (LOG_ERR..LOG_DEBUG), and
   * the TfstLogTarget: both read and written atomically, by any thread. */
  gint max_priority;
  gint target;
  gboolean journal; /* stderr is connected to the journal */
} TfstLog;

/* Message ids: one per notable event kind; the catalog explains each. */
#define TFST_MSGID_STARTED       "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e01"
#define TFST_MSGID_HANDSHAKE     "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e02"
#define TFST_MSGID_HANDSHAKE_BAD "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e03"
#define TFST_MSGID_OPEN_FAILED   "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e04"
#define TFST_MSGID_BIND_FAILED   "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e05"
#define TFST_MSGID_KEEPALIVE     "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e06"
#define TFST_MSGID_CLOSE_ABORT   "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e07"
#define TFST_MSGID_PROTOCOL      "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e08"
#define TFST_MSGID_HOP_LOST      "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e09"
#define TFST_MSGID_MAX_SESSIONS  "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e0a"
#define TFST_MSGID_TLS_HANDSHAKE "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e0c"
#define TFST_MSGID_TLS_REFUSED   "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e0d"
#define TFST_MSGID_TLS_EXPIRY    "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e0e"
#define TFST_MSGID_FAILOVER      "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e0f"
#define TFST_MSGID_FAILBACK      "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e10"
#define TFST_MSGID_SPOOL_HIGH    "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e11"
#define TFST_MSGID_EVENTS_DROP   "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e12"
#define TFST_MSGID_SPOOL_DAMAGED "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e13"
#define TFST_MSGID_SPOOL_ERROR   "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e14"
#define TFST_MSGID_TRACE         "9f3b1c52d07e4a8c8b6f2e41a7d5c913"
#define TFST_MSGID_SPI_CONFLICT  "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e0b"

typedef struct {
  const char *message_id;
  const char *peer_label;
  guint64 session; /* 0: none */
  int err;         /* 0: none */
} TfstLogFields;

void tfst_log_init(TfstLog *log, const char *role, const char *instance, const char *label,
                   guint level);
/* The configuration's LogLevel= scale, 0-3: 0 errors (err), 1 adds
 * warnings and notices (notice), 2 per-session lines (info), 3 debug. */
void tfst_log_set_level(TfstLog *log, guint level);
/* The syslog priority a 0-3 level stands for (err, notice, info, debug;
 * above 3: debug). */
int tfst_log_level_to_priority(guint level);
/* The 0-3 level that shows at least what is logged now: err and above 0,
 * warning and notice 1, info 2, debug 3. */
guint tfst_log_get_level(const TfstLog *log);
/* The syslog scale (LOG_EMERG..LOG_DEBUG), as systemd's LogLevel. */
void tfst_log_set_max_priority(TfstLog *log, int priority);
int tfst_log_get_max_priority(const TfstLog *log);
/* "emerg" ... "debug", as syslog(3) and systemd name them; -1 when the name
 * is none of those. */
int tfst_log_priority_from_string(const char *name);
const char *tfst_log_priority_to_string(int priority);
void tfst_log_set_target(TfstLog *log, TfstLogTarget target);
TfstLogTarget tfst_log_get_target(const TfstLog *log);
/* "auto", "journal", "console", "null"; FALSE for any other name. */
gboolean tfst_log_target_from_string(const char *name, TfstLogTarget *out_target);
const char *tfst_log_target_to_string(TfstLogTarget target);
gboolean tfst_log_enabled(const TfstLog *log, int priority);
/* A line recording a change to the logging itself: it passes whatever the
 * level, and goes to `target` (TFST_LOG_TARGET_NULL: nowhere), so that
 * switching the logging off is itself on record. */
void tfst_log_change(const TfstLog *log, TfstLogTarget target, const char *format, ...)
    G_GNUC_PRINTF(3, 4);
void tfst_log_full(const TfstLog *log, int priority, const TfstLogFields *fields,
                   const char *format, ...) G_GNUC_PRINTF(4, 5);

/* For lines a peer can trigger: passes through `rl` (owned by the caller,
 * used from one thread), and the first line after a suppressed burst ends
 * with "(N similar messages suppressed)".  MESSAGE_ID and the other fields
 * stay, so journalctl still finds every kind. */
void tfst_log_limited(const TfstLog *log, TfstRatelimit *rl, int priority,
                      const TfstLogFields *fields, const char *format, ...) G_GNUC_PRINTF(5, 6);

/* Peer-triggered lines: at most this many per window per kind. */
#define TFST_LOG_PEER_INTERVAL_US (10 * G_USEC_PER_SEC)
#define TFST_LOG_PEER_BURST       20

#define tfst_log(log, prio, ...) tfst_log_full((log), (prio), NULL, __VA_ARGS__)
