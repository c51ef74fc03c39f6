/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The schema of the configuration files, for the loader (tfst-config.c):
 * the sections and the keys each accepts, the defaults and the limits of
 * the values.  docs/configuration.md and tfst.conf(5) describe the same. */
#pragma once

#include "tfst-config.h"

#define DEFAULT_LOG_LEVEL    1
#define DEFAULT_MAX_SESSIONS 10000
#define MAX_MAX_SESSIONS     1000000
/* Sessions a child hop may open per second: above the session setup rate a
 * whole chain reaches on one core (bench/README.md), far below what it
 * takes to flood the secure zone with connections. */
#define DEFAULT_OPEN_RATE        5000
#define DEFAULT_RECONNECT_MIN_MS 1000
#define DEFAULT_RECONNECT_MAX_MS 60000
#define DEFAULT_HANDSHAKE_MS     10000
#define MIN_HANDSHAKE_MS         100
#define DEFAULT_MAX_PENDING      1024
#define DEFAULT_MAX_PENDING_ADDR 64
#define MAX_MAX_PENDING          1000000
#define MAX_HANDSHAKE_MS         (10 * 60 * 1000)
/* A peer that refuses at once must not be hammered in a tight loop. */
#define MIN_RECONNECT_MS           100
#define DEFAULT_KEEPIDLE_S         300
#define DEFAULT_KEEPINTVL_S        30
#define DEFAULT_KEEPCNT            4
#define MAX_KEEP_S                 TFST_KEEPALIVE_MAX_S
#define MAX_KEEPCNT                TFST_KEEPALIVE_MAX_COUNT
#define DEFAULT_PING_INTERVAL_MS   15000
#define DEFAULT_PING_TIMEOUT_MS    45000
#define MIN_PING_INTERVAL_MS       TFST_PING_INTERVAL_MIN_MS
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_CLOSE_TIMEOUT_MS   30000
#define DEFAULT_INITIAL_WINDOW     (256u * 1024u)
#define MIN_INITIAL_WINDOW         (4u * 1024u)
#define MAX_INITIAL_WINDOW         (64u * 1024u * 1024u)
#define DEFAULT_MAX_WINDOW         (16u * 1024u * 1024u)
#define MAX_MAX_WINDOW             (256u * 1024u * 1024u)
#define DEFAULT_PORT_BASE          1918
#define PORT_STRIDE                4096
#define MS_PER_S                   1000u

#define TFST_CONFIG_FORWARD_PREFIX "Forward"
#define TFST_CONFIG_EVENTS_PREFIX  "Events"

typedef struct {
  const char *name; /* as shown to the user: "Parent", "Forward NAME" */
  const char *const *keys;
} TfstConfigSection;

/* The section group is ("Forward x" is "Forward NAME", "Events x" is
 * "Events NAME"), NULL when unknown. */
const TfstConfigSection *tfst_config_schema_section(const char *group);
/* The NAME of "[Forward NAME]", or NULL when group is not a forward. */
const char *tfst_config_schema_forward_name(const char *group);
/* The NAME of "[Events NAME]", or NULL when group is not an event sink. */
const char *tfst_config_schema_events_name(const char *group);
/* A known word close enough to be what a typo meant, or NULL. */
const char *tfst_config_schema_suggest(const char *word, const char *const *known);
/* The section name an unknown group was probably meant to be, or NULL. */
const char *tfst_config_schema_suggest_section(const char *group);
/* Every setting of c (role and instance set) to its default. */
void tfst_config_schema_set_defaults(TfstConfig *c);
