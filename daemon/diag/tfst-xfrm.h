/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel's IPsec security associations (xfrm) as plain structs, read
 * with libnl-xfrm, and the SPI-conflict rules over them.  The rules are
 * pure functions of an SA list so the unit tests need no kernel.
 *
 * An SPI collides when two SAs (or an SA and a proposal) carry the same
 * SPI:
 * - same destination and protocol: the kernel keys inbound SAs by
 *   (destination, SPI, protocol), so it refuses the second one;
 * - another tunnel (another source/destination pair, or AH next to ESP on
 *   the same pair): the kernel accepts it, but it breaks the rule of one
 *   SPI per tunnel, and peers and tools that go by the SPI mix them up.
 * SPI 0 marks a larval SA that has no SPI yet and never collides. */
#pragma once

#include <gio/gio.h>
#include <netinet/in.h>

/* Reading xfrm over netlink needs this capability in the daemon's network
 * namespace: the kernel checks it for every message and group. */
#define TFST_XFRM_CAPABILITY "CAP_NET_ADMIN"

typedef enum {
  TFST_XFRM_CONFLICT_NONE = 0,
  TFST_XFRM_CONFLICT_SAME_DESTINATION,
  TFST_XFRM_CONFLICT_OTHER_TUNNEL,
} TfstXfrmConflict;

typedef struct {
  guint32 spi;                        /* host byte order */
  guint8 proto;                       /* IPPROTO_ESP, IPPROTO_AH, IPPROTO_COMP, ... */
  char source[INET6_ADDRSTRLEN];      /* numeric, canonical (inet_ntop) */
  char destination[INET6_ADDRSTRLEN]; /* numeric, canonical (inet_ntop) */
  char mode[16];
  guint32 reqid;
  guint64 bytes, packets;
  guint32 replay_window_failures, replay_failures, integrity_failures;
} TfstXfrmSa;

/* "same-destination", "other-tunnel" (the D-Bus names); NULL for NONE. */
const char *tfst_xfrm_conflict_to_string(TfstXfrmConflict kind);
/* "esp", "ah", "comp", other kernel names, or the number as text. */
const char *tfst_xfrm_proto_to_string(guint8 proto, char buf[4]);
/* "esp", "ah" or "comp" only: the protocols that carry an SPI. */
gboolean tfst_xfrm_proto_from_string(const char *name, guint8 *ret_proto, GError **error);
/* A numeric IPv4 or IPv6 address in canonical form, e.g. for comparing
 * with TfstXfrmSa.destination. */
gboolean tfst_xfrm_canonical_address(const char *text, char ret[INET6_ADDRSTRLEN], GError **error);
/* SPIs 1-255 are reserved (RFC 4303), 0 means none. */
gboolean tfst_xfrm_spi_valid(guint32 spi, GError **error);

/* How a proposed (spi, destination, proto) collides with an existing SA;
 * destination in canonical form. */
TfstXfrmConflict tfst_xfrm_classify(const TfstXfrmSa *sa, guint32 spi, const char *destination,
                                    guint8 proto);
/* How two existing SAs collide. */
TfstXfrmConflict tfst_xfrm_classify_pair(const TfstXfrmSa *a, const TfstXfrmSa *b);

/* A group of SAs that share an SPI: every SA of a same-destination group
 * has the same destination and protocol; an other-tunnel group holds every
 * SA with that SPI when they belong to more than one tunnel. */
typedef struct {
  guint32 spi;
  TfstXfrmConflict kind;
  GArray *sas; /* TfstXfrmSa */
} TfstXfrmConflictGroup;

void tfst_xfrm_conflict_group_free(TfstXfrmConflictGroup *group);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstXfrmConflictGroup, tfst_xfrm_conflict_group_free)
/* Every group of colliding SAs in `sas` (TfstXfrmSa), ordered by SPI,
 * same-destination groups first: a GPtrArray of TfstXfrmConflictGroup. */
GPtrArray *tfst_xfrm_find_conflicts(const GArray *sas);
/* The SAs of `sas` that `sa` collides with (itself, the first element
 * equal to it in SPI, protocol and addresses, excluded), and the worst
 * kind (same-destination before other-tunnel) in ret_kind. */
GArray *tfst_xfrm_conflicts_of(const GArray *sas, const TfstXfrmSa *sa, TfstXfrmConflict *ret_kind);

/* /proc/net/xfrm_stat text ("XfrmInError   0" lines) as a{st}. */
GVariant *tfst_xfrm_parse_stat(const char *text, GError **error);
