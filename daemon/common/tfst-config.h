/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Instance configuration: /etc/tfst/<role>@<instance>.conf plus drop-ins in
 * <role>@<instance>.conf.d/NAME.conf (sorted, later files override single keys).
 * docs/configuration.md and tfst.conf(5) document every key. */
#pragma once

#include "tfst-addr.h"
#include "tfst-label.h"
#include "tfst-parse.h"
#include "tfst-role.h"
#include "tfst-tls-conf.h"

/* sysexits.h EX_CONFIG: what systemd shows for a refused configuration. */
#define TFST_EXIT_CONFIG 78

typedef enum {
  TFST_TARGET_NONE = 0,     /* this end listens (or the forward only passes through) */
  TFST_TARGET_ADDRESS,      /* Target=ADDR:PORT */
  TFST_TARGET_ORIGINAL_DST, /* Target=original-destination: what the OPEN carries */
} TfstTargetKind;

typedef struct {
  gboolean configured; /* the section exists (epproxy [Children]: always, default Listen) */
  gboolean listen;     /* TRUE: Listen= (we accept); FALSE: Connect= (we open) */
  GArray *addrs;       /* TfstSockAddr; Listen: exactly 1, Connect: 1..n */
  /* Connect=: the label each address must announce (LABEL@ADDRESS:PORT),
   * NULL where none is given; parallel to addrs. */
  GPtrArray *expect_labels;
  gboolean port_from_rule; /* Listen= without a port: [Ports] rule decides */
  gboolean have_local;
  TfstSockAddr local; /* LocalAddress= (port 0) */
  guint16 sport_lo;   /* SourcePorts=LO-HI, 0 when unset */
  guint16 sport_hi;
  guint reconnect_min_ms;
  guint reconnect_max_ms;
  guint handshake_timeout_ms; /* HandshakeTimeout=: TCP connected to hop up */
  guint max_pending;          /* MaxPendingHops=: accepted hops not up yet */
  guint max_pending_per_addr; /* MaxPendingHopsPerAddress= */
  TfstTlsConf tls;
} TfstHopConf;

typedef struct {
  char *name; /* label syntax */
  gboolean has_listen;
  TfstSockAddr listen;
  TfstTargetKind target_kind;
  TfstSockAddr target;
  char *route;              /* Route=LABEL: downcalls go to this gateway proxy; NULL: learned */
  gboolean has_destination; /* Destination=ADDR:PORT: endpoint a downcall is for */
  TfstSockAddr destination;
} TfstForwardConf;

/* [Events NAME] (docs/events.md): syslog, traps and similar events carried
 * through the chain, spooled at the collecting end (a gateway proxy with
 * Listen=) and delivered at the far end (an endpoint proxy with Target=). */
typedef enum {
  TFST_EVENT_UDP,
  TFST_EVENT_TCP,
} TfstEventTransport;

typedef struct {
  TfstEventTransport transport;
  TfstSockAddr addr;
} TfstEventAddr;

typedef enum {
  TFST_EVENT_FRAMING_OCTET,   /* RFC 6587 octet counting: "LEN SP MSG" */
  TFST_EVENT_FRAMING_NEWLINE, /* RFC 6587 non-transparent: "MSG LF" */
} TfstEventFraming;

typedef enum {
  TFST_SPOOL_FULL_DROP_OLDEST,
  TFST_SPOOL_FULL_DROP_NEWEST,
  TFST_SPOOL_FULL_BLOCK,
} TfstSpoolFull;

/* The largest event: bigger ones are malformed (oversize). */
#define TFST_EVENT_MAX             (64u * 1024u)
#define TFST_DEFAULT_SPOOL_SIZE    (256ull * 1024 * 1024)
#define TFST_SPOOL_SIZE_MIN        (1024ull * 1024)
#define TFST_DEFAULT_SPOOL_SYNC_MS 100u
#define TFST_SPOOL_SYNC_ALWAYS     0u

typedef struct {
  guint64 max_bytes; /* SpoolSize= */
  guint sync_ms;     /* SpoolSync=, TFST_SPOOL_SYNC_ALWAYS: after every batch read */
  TfstSpoolFull full;
} TfstSpoolConf;

typedef struct {
  char *name;     /* label syntax */
  GArray *listen; /* TfstEventAddr, Listen=: empty when none */
  gboolean has_target;
  TfstEventAddr target;            /* Target= */
  TfstEventFraming target_framing; /* TargetFraming=, tcp targets only */
  TfstSpoolConf spool;
} TfstEventsConf;

/* Kernel limits of TCP_KEEPIDLE/TCP_KEEPINTVL (MAX_TCP_KEEPIDLE) and
 * TCP_KEEPCNT, and the shortest PING interval we accept. */
#define TFST_KEEPALIVE_MAX_S      32767
#define TFST_KEEPALIVE_MAX_COUNT  127
#define TFST_PING_INTERVAL_MIN_MS 100

typedef struct {
  gboolean enabled;         /* SO_KEEPALIVE */
  guint idle_s;             /* TCP_KEEPIDLE */
  guint interval_s;         /* TCP_KEEPINTVL */
  guint count;              /* TCP_KEEPCNT */
  guint user_timeout_ms;    /* TCP_USER_TIMEOUT, 0 = kernel default */
  guint firewall_timeout_s; /* declared state timeout of the firewall, 0 = unknown */
  guint ping_interval_ms;   /* hops only */
  guint ping_timeout_ms;
} TfstKeepaliveConf;

/* [Children] AllowLabels=, AllowNetworks=, AllowForwards=: one rule per
 * word "CHILD:ITEM[,ITEM...]".  A NULL rule array means the key is unset:
 * every child may claim anything (subject to the checks that always apply,
 * see docs/security.md). */
typedef struct {
  char *child;      /* glob on the label of the child hop */
  GStrv globs;      /* AllowLabels=, AllowForwards= */
  GArray *networks; /* TfstNetworkEntry (owner empty): AllowNetworks= */
} TfstAllowRule;

typedef struct {
  GPtrArray *labels; /* TfstAllowRule, NULL: unset */
  GPtrArray *networks;
  GPtrArray *forwards;
  guint max_tell_entries; /* MaxTellEntries=: per child hop */
} TfstTrustConf;

#define TFST_DEFAULT_MAX_TELL_ENTRIES  1024
#define TFST_DEFAULT_FAILBACK_DELAY_MS 30000u
#define TFST_FAILBACK_NEVER            G_MAXUINT
#define TFST_MAX_PARENTS               64

typedef struct {
  TfstRole role;
  char *instance;
  char *path;  /* main file, NULL when built from data */
  char *label; /* [Instance] Label=, default "<role>-<instance>" */
  /* LogLevel=: the least important syslog priority logged (LOG_ERR ..
   * LOG_DEBUG; 0-3 in the file stands for err, notice, info, debug). */
  int log_priority;
  guint max_sessions;
  guint max_sessions_per_child; /* 0: half of max_sessions (tfst_config_child_sessions) */
  guint open_rate;              /* sessions per second per child hop, 0: no limit */
  GArray *networks;             /* TfstNetworkEntry (owner empty): [Instance] Networks= */

  TfstHopConf parent;
  guint max_parents;       /* [Parent] MaxParents=: parent hops a Listen= side accepts */
  guint failback_delay_ms; /* [Parent] FailbackDelay=, TFST_FAILBACK_NEVER: stay */
  TfstHopConf children;
  TfstTrustConf trust;                 /* [Children]: what each child may claim */
  TfstKeepaliveConf keepalive;         /* [Keepalive]: the hops */
  TfstKeepaliveConf session_keepalive; /* [SessionKeepalive]: client and target sockets */

  guint connect_timeout_ms; /* [Session] ConnectTimeout= */
  guint close_timeout_ms;   /* [Session] CloseTimeout= */
  guint idle_timeout_ms;    /* [Session] IdleTimeout=, 0 = none */
  guint32 initial_window;   /* [Session] InitialWindow= bytes */
  guint32 max_window;       /* [Session] MaxWindow= bytes */
  gboolean zero_copy;       /* [Session] ZeroCopy=: payload through pipes where TLS is off */

  /* [Diagnostics]: what the unit gets capabilities for (tfst-generator) */
  gboolean packet_trace; /* PacketTrace=: CAP_NET_RAW, AF_PACKET */
  gboolean ipsec;        /* IPsec=: CAP_NET_ADMIN for reading xfrm */

  guint16 port_base; /* [Ports] */
  guint16 port_skip;
  guint16 port_count;

  GPtrArray *forwards; /* TfstForwardConf */
  GPtrArray *events;   /* TfstEventsConf: [Events NAME] */

  /* Where the address keys were set, for checks made after loading
   * (tfst-host-addrs.c): see tfst_config_origin(). */
  GHashTable *origins;
  /* Mistakes that do not stop the load (a key or section given twice in
   * one file), "FILE:LINE: ...", for the journal. */
  GPtrArray *warnings; /* char * */
} TfstConfig;

/* Default path: SYSCONFDIR/tfst/<role>@<instance>.conf */
char *tfst_config_default_path(TfstRole role, const char *instance);

/* Where settings changed at run time are persisted as drop-ins, read after
 * those of the main file: $STATE_DIRECTORY/<role>@<instance>.conf.d. */
/* $STATE_DIRECTORY's first entry, else TFST_STATE_DIR (/var/lib/tfst,
 * where the units' StateDirectory= is). */
char *tfst_config_state_dir(void);
char *tfst_config_persist_dir(TfstRole role, const char *instance);

typedef enum {
  TFST_CONFIG_FILE_MAIN,      /* --config or SYSCONFDIR/tfst/<role>@<instance>.conf */
  TFST_CONFIG_FILE_DROPIN,    /* <main>.d/NAME.conf */
  TFST_CONFIG_FILE_PERSISTED, /* tfst_config_persist_dir()/NAME.conf: changes made live */
} TfstConfigFileKind;

typedef struct {
  char *path;
  TfstConfigFileKind kind;
} TfstConfigFile;

/* The files tfst_config_load() reads for the same arguments, in the order
 * they apply (a later file overrides single keys of an earlier one): the
 * main file (listed even when it does not exist), its drop-ins, then the
 * persisted drop-ins, each directory in byte order of the names.
 * tfstctl cat prints them, tfstctl check and tfstd --check-config load
 * them.  NULL and TFST_ERROR_CONFIG when the instance name cannot name a
 * file or a drop-in directory cannot be read. */
GPtrArray *tfst_config_files(TfstRole role, const char *instance, const char *path,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Loads path (or the default path when NULL) and its drop-ins.  A missing
 * default file is not an error (all defaults apply, which is only valid for
 * roles whose defaults make sense); a missing explicit file is.  Errors are
 * TFST_ERROR_CONFIG and read "FILE:LINE: [Section] Key=: reason". */
TfstConfig *tfst_config_load(TfstRole role, const char *instance, const char *path, GError **error);
TfstConfig *tfst_config_load_from_data(TfstRole role, const char *instance, const char *data,
                                       const char *name, GError **error);
void tfst_config_free(TfstConfig *config);
/* "FILE:LINE" (or "FILE" when the line is unknown) of the assignment in
 * effect of an address key (Listen=, Connect=, LocalAddress=, Target=,
 * Destination=), so that a later check can word its error like the loader
 * does: "FILE:LINE: [group] key=: reason".  group is the section name
 * ("Parent", "Children"; a forward always as "Forward NAME" with one space).
 * NULL when the key has its default value. */
/* MaxSessionsPerChild=, or half of MaxSessions= (rounded up) when unset. */
guint tfst_config_child_sessions(const TfstConfig *config);
const char *tfst_config_origin(const TfstConfig *config, const char *group, const char *key);
/* A check made after loading (the TLS files) words its error like the
 * loader: "FILE:LINE: [group] key=: reason", at the origin of the key. */
void tfst_config_set_error(const TfstConfig *config, GError **error, const char *group,
                           const char *key, const char *reason);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstConfig, tfst_config_free)

/* Port of instance N under the ITM rule: Base + (Skip + k) * 4096. */
guint16 tfst_config_rule_port(const TfstConfig *config, guint k);

/* The [Events] section named `name`, or NULL. */
const TfstEventsConf *tfst_config_events(const TfstConfig *config, const char *name);
/* Where an instance's event spools live: $STATE_DIRECTORY (or
 * TFST_STATE_DIR, /var/lib/tfst)/<role>@<instance>.spool/<NAME>. */
char *tfst_config_spool_dir(const TfstConfig *config, const char *name);

/* The [Forward] section named `name`, or NULL. */
const TfstForwardConf *tfst_config_forward(const TfstConfig *config, const char *name);
