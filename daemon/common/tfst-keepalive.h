/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Keepalive settings as org.tfst.Tfst1.Keepalive speaks them: a{sv}
 * dictionaries with the [Keepalive] key names, merged and checked against
 * the firewall's state timeout, and written back as a drop-in. */
#pragma once

#include "tfst-config.h"

#include <gio/gio.h>

/* SetSettings() flags */
#define TFST_KEEPALIVE_PERSIST                 (1u << 0)
#define TFST_KEEPALIVE_ALLOW_FIREWALL_MISMATCH (1u << 1)
#define TFST_KEEPALIVE_FLAGS_ALL               (TFST_KEEPALIVE_PERSIST | TFST_KEEPALIVE_ALLOW_FIREWALL_MISMATCH)

/* How a setting's value is written in the configuration: yes/no, a
 * count, whole seconds or a time span in milliseconds. */
typedef enum {
  TFST_KEEPALIVE_UNIT_BOOL,
  TFST_KEEPALIVE_UNIT_COUNT,
  TFST_KEEPALIVE_UNIT_S,
  TFST_KEEPALIVE_UNIT_MS,
} TfstKeepaliveUnit;

/* The i-th setting in the order GetSettings() lists them (PingInterval
 * and PingTimeout, for hops only, last); FALSE past the last one. */
gboolean tfst_keepalive_setting(guint i, const char **out_name, TfstKeepaliveUnit *out_unit);

/* One SetSettings() (or GetSettings(): only `hops`) on its way to the data
 * plane. */
typedef struct {
  gboolean hops; /* scope "hops"; FALSE: "sessions" */
  GVariant *changes;
  guint flags;
  char *summary; /* the changes as "Idle=10 Interval=2", for the journal */
} TfstKeepaliveUpdate;

void tfst_keepalive_update_free(TfstKeepaliveUpdate *update);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstKeepaliveUpdate, tfst_keepalive_update_free)

/* "hops" or "sessions"; anything else is TFST_ERROR_INVALID_ARGS. */
gboolean tfst_keepalive_parse_scope(const char *scope, gboolean *out_hops, GError **error);
/* Every setting of a scope as a floating a{sv}. */
GVariant *tfst_keepalive_to_variant(const TfstKeepaliveConf *ka, gboolean hops);
/* Applies `changes` (a{sv}) to *ka, all or nothing: on error *ka is left
 * as it was.  Accepted conflicts with FirewallTimeout (flag
 * ALLOW_FIREWALL_MISMATCH) and other advice are added to `warnings`. */
gboolean tfst_keepalive_merge(TfstKeepaliveConf *ka, gboolean hops, GVariant *changes, guint flags,
                              GPtrArray *warnings, GError **error);
/* "Idle=10 Interval=2" */
char *tfst_keepalive_describe(GVariant *changes);
/* The text of a [Keepalive] (hops) or [SessionKeepalive] drop-in:
 * `existing` (a drop-in's text, or NULL for a new one) with the keys of
 * `changes` (a{sv} as SetSettings takes it) set, in the units of the
 * configuration; NULL with `error` if `existing` is not a key file. */
char *tfst_keepalive_dropin(const char *existing, GVariant *changes, gboolean hops, GError **error);
/* Merges `changes` into the instance's persisted drop-in
 * (tfst_config_persist_dir()/50-keepalive.conf or
 * 50-session-keepalive.conf) and returns its path, or NULL with `error`. */
char *tfst_keepalive_persist(TfstRole role, const char *instance, GVariant *changes, gboolean hops,
                             GError **error);
