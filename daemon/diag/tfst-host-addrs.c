/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-host-addrs.h"

#include "tfst-addr.h"
#include "tfst-nl.h"
#include "tfst-error.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

#define SYSCTL_DIR "/proc/sys/net"
/* Enough for any host an administrator reads the list of; a router with
 * hundreds of addresses gets the first ones and a count. */
#define DESCRIBE_MAX 32

typedef struct {
  guint8 family; /* AF_INET or AF_INET6 */
  guint8 prefix_len;
  guint8 addr[16];
  int ifindex; /* sort key only; 0 when added by hand */
  char *ifname;
  TfstHostAddrFlags flags;
} HostAddr;

typedef struct {
  guint8 addr[4]; /* IPv4 */
  guint8 prefix_len;
} LocalRoute;

struct TfstHostAddrs {
  GArray *addrs;  /* HostAddr, in the order they are listed */
  GArray *routes; /* LocalRoute */
  gboolean nonlocal_ipv4;
  gboolean nonlocal_ipv6;
};

static void
host_addr_clear(HostAddr *a)
{
  g_clear_pointer(&a->ifname, g_free);
}

TfstHostAddrs *
tfst_host_addrs_new(void)
{
  TfstHostAddrs *h = g_new0(TfstHostAddrs, 1);

  h->addrs = g_array_new(FALSE, TRUE, sizeof(HostAddr));
  g_array_set_clear_func(h->addrs, (GDestroyNotify)host_addr_clear);
  h->routes = g_array_new(FALSE, TRUE, sizeof(LocalRoute));
  return h;
}

void
tfst_host_addrs_free(TfstHostAddrs *h)
{
  if (h == NULL)
    return;
  g_array_unref(h->addrs);
  g_array_unref(h->routes);
  g_free(h);
}

/* The IPv4 address inside an IPv4-mapped IPv6 one (::ffff:a.b.c.d), so that
 * both spellings are checked alike. */
static gboolean
unmap_v4(const TfstSockAddr *a, TfstSockAddr *out)
{
  if (a->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
    return FALSE;
  memset(out, 0, sizeof(*out));
  out->in.sin_family = AF_INET;
  memcpy(&out->in.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
  return TRUE;
}

static const guint8 *
addr_bytes(const TfstSockAddr *a)
{
  return a->sa.sa_family == AF_INET ? (const guint8 *)&a->in.sin_addr
                                    : (const guint8 *)&a->in6.sin6_addr;
}

static gsize
family_len(int family)
{
  return family == AF_INET ? 4 : 16;
}

static void
add_entry(TfstHostAddrs *h, int ifindex, const char *ifname, const TfstSockAddr *addr,
          guint8 prefix_len, TfstHostAddrFlags flags)
{
  HostAddr e = {0};

  e.family = (guint8)addr->sa.sa_family;
  e.prefix_len = MIN(prefix_len, (guint8)(family_len(e.family) * 8));
  memcpy(e.addr, addr_bytes(addr), family_len(e.family));
  e.ifindex = ifindex;
  e.ifname = g_strdup(ifname);
  e.flags = flags;
  g_array_append_val(h->addrs, e);
}

void
tfst_host_addrs_add(TfstHostAddrs *h, const char *ifname, const TfstSockAddr *addr,
                    guint8 prefix_len, TfstHostAddrFlags flags)
{
  g_return_if_fail(addr->sa.sa_family == AF_INET || addr->sa.sa_family == AF_INET6);
  add_entry(h, 0, ifname, addr, prefix_len, flags);
}

void
tfst_host_addrs_add_local_route(TfstHostAddrs *h, const TfstSockAddr *net, guint8 prefix_len)
{
  LocalRoute r = {{0}};

  g_return_if_fail(net->sa.sa_family == AF_INET);
  memcpy(r.addr, &net->in.sin_addr, 4);
  r.prefix_len = MIN(prefix_len, 32);
  g_array_append_val(h->routes, r);
}

void
tfst_host_addrs_set_nonlocal_bind(TfstHostAddrs *h, gboolean ipv4, gboolean ipv6)
{
  h->nonlocal_ipv4 = ipv4;
  h->nonlocal_ipv6 = ipv6;
}

/* ---- classification */

static gboolean
is_wildcard(const TfstSockAddr *a)
{
  TfstSockAddr v4;

  if (unmap_v4(a, &v4))
    a = &v4;
  if (a->sa.sa_family == AF_INET)
    return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
  return a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

static const HostAddr *
find_addr(const TfstHostAddrs *h, const TfstSockAddr *a)
{
  for (guint i = 0; i < h->addrs->len; i++) {
    const HostAddr *e = &g_array_index(h->addrs, HostAddr, i);

    if (e->family == a->sa.sa_family && memcmp(e->addr, addr_bytes(a), family_len(e->family)) == 0)
      return e;
  }
  return NULL;
}

/* IPv4 only: a local route covers it, or it is in the prefix of a loopback
 * interface's address (the kernel adds "local 127.0.0.0/8 dev lo"). */
static gboolean
in_local_network(const TfstHostAddrs *h, const TfstSockAddr *a)
{
  for (guint i = 0; i < h->routes->len; i++) {
    const LocalRoute *r = &g_array_index(h->routes, LocalRoute, i);

    if (tfst_addr_in_network(a, AF_INET, r->addr, r->prefix_len))
      return TRUE;
  }
  for (guint i = 0; i < h->addrs->len; i++) {
    const HostAddr *e = &g_array_index(h->addrs, HostAddr, i);

    if (e->family == AF_INET && (e->flags & TFST_HOST_ADDR_LOOPBACK) &&
        tfst_addr_in_network(a, AF_INET, e->addr, e->prefix_len))
      return TRUE;
  }
  return FALSE;
}

TfstBindCheck
tfst_host_addrs_classify(const TfstHostAddrs *h, const TfstSockAddr *addr)
{
  TfstSockAddr v4;
  const TfstSockAddr *a = addr;
  const HostAddr *e;
  /* an AF_INET6 socket, even for a mapped address, obeys the IPv6 setting */
  gboolean nonlocal = addr->sa.sa_family == AF_INET6 ? h->nonlocal_ipv6 : h->nonlocal_ipv4;
  gboolean dad_failed;

  if (is_wildcard(addr))
    return TFST_BIND_WILDCARD;
  if (unmap_v4(addr, &v4))
    a = &v4;
  e = find_addr(h, a);
  if (e != NULL && !(e->flags & TFST_HOST_ADDR_DADFAILED))
    return TFST_BIND_LOCAL;
  dad_failed = e != NULL;
  if (e == NULL && a->sa.sa_family == AF_INET && in_local_network(h, a))
    return TFST_BIND_LOCAL;
  if (nonlocal)
    return TFST_BIND_NONLOCAL;
  return dad_failed ? TFST_BIND_DAD_FAILED : TFST_BIND_NOT_LOCAL;
}

/* ---- text */

static const char *
ip_format(int family, const void *bytes, char buf[INET6_ADDRSTRLEN])
{
  if (inet_ntop(family, bytes, buf, INET6_ADDRSTRLEN) == NULL)
    g_strlcpy(buf, "?", INET6_ADDRSTRLEN);
  return buf;
}

char *
tfst_host_addrs_describe(const TfstHostAddrs *h)
{
  g_autoptr(GString) s = g_string_new(NULL);

  if (h->addrs->len == 0)
    return g_strdup("no addresses at all");
  for (guint i = 0; i < h->addrs->len && i < DESCRIBE_MAX; i++) {
    const HostAddr *e = &g_array_index(h->addrs, HostAddr, i);
    char buf[INET6_ADDRSTRLEN];

    if (i > 0)
      g_string_append(s, ", ");
    g_string_append_printf(s, "%s (%s", ip_format(e->family, e->addr, buf),
                           e->ifname != NULL ? e->ifname : "?");
    if (e->flags & TFST_HOST_ADDR_DOWN)
      g_string_append(s, ", down");
    if (e->flags & TFST_HOST_ADDR_DADFAILED)
      g_string_append(s, ", duplicate");
    else if (e->flags & TFST_HOST_ADDR_TENTATIVE)
      g_string_append(s, ", tentative");
    g_string_append_c(s, ')');
  }
  if (h->addrs->len > DESCRIBE_MAX)
    g_string_append_printf(s, " and %u more (ip -brief address shows them all)",
                           h->addrs->len - DESCRIBE_MAX);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- the configuration's addresses */

typedef struct {
  char *group; /* "Parent", "Children", "Forward NAME", "Events NAME" */
  const char *key;
  TfstSockAddr addr;
} BindSpec;

static void
bind_spec_clear(BindSpec *b)
{
  g_clear_pointer(&b->group, g_free);
}

static void
add_bind(GArray *binds, const char *group, const char *key, const TfstSockAddr *addr)
{
  BindSpec b = {g_strdup(group), key, *addr};

  g_array_append_val(binds, b);
}

static void
add_hop_binds(GArray *binds, const char *group, const TfstHopConf *hop)
{
  if (!hop->configured)
    return;
  if (hop->listen && hop->addrs->len > 0)
    add_bind(binds, group, "Listen", &g_array_index(hop->addrs, TfstSockAddr, 0));
  else if (!hop->listen && hop->have_local)
    add_bind(binds, group, "LocalAddress", &hop->local);
}

static void
add_event_binds(GArray *binds, const TfstConfig *c)
{
  for (guint i = 0; c->events != NULL && i < c->events->len; i++) {
    const TfstEventsConf *ev = g_ptr_array_index(c->events, i);
    g_autofree char *group = g_strdup_printf("Events %s", ev->name);

    for (guint k = 0; k < ev->listen->len; k++)
      add_bind(binds, group, "Listen", &g_array_index(ev->listen, TfstEventAddr, k).addr);
  }
}

/* Every address the instance binds to, wildcards included. */
static GArray *
config_binds(const TfstConfig *c)
{
  GArray *binds = g_array_new(FALSE, TRUE, sizeof(BindSpec));

  g_array_set_clear_func(binds, (GDestroyNotify)bind_spec_clear);
  add_hop_binds(binds, "Parent", &c->parent);
  add_hop_binds(binds, "Children", &c->children);
  for (guint i = 0; c->forwards != NULL && i < c->forwards->len; i++) {
    const TfstForwardConf *f = g_ptr_array_index(c->forwards, i);
    g_autofree char *group = NULL;

    if (!f->has_listen)
      continue;
    group = g_strdup_printf("Forward %s", f->name);
    add_bind(binds, group, "Listen", &f->listen);
  }
  add_event_binds(binds, c);
  return binds;
}

static const char *
nonlocal_sysctl(const TfstSockAddr *a)
{
  return a->sa.sa_family == AF_INET6 ? "net.ipv6.ip_nonlocal_bind" : "net.ipv4.ip_nonlocal_bind";
}

static void
note_clear(TfstHostAddrsNote *n)
{
  g_clear_pointer(&n->text, g_free);
}

/* What happens until the address arrives, by the side that binds it. */
static const char *
until_assigned(const BindSpec *b)
{
  if (g_str_equal(b->key, "LocalAddress"))
    return "hops are opened from it once it is assigned (until then every attempt fails with "
           "\"Cannot assign requested address\")";
  return "listening with IP_FREEBIND: connections are accepted as soon as it is assigned";
}

/* Worded like the loader's errors, so the administrator finds the line:
 * "FILE:LINE: [group] key=: ...", and with the host's addresses, so that a
 * typo stands out. */
static void
add_note(GArray *notes, const TfstHostAddrs *h, const TfstConfig *c, const BindSpec *b,
         TfstBindCheck check)
{
  const char *origin = tfst_config_origin(c, b->group, b->key);
  g_autofree char *have = tfst_host_addrs_describe(h);
  g_autoptr(GString) msg = g_string_new(NULL);
  TfstHostAddrsNote n = {LOG_NOTICE, NULL};
  char ip[INET6_ADDRSTRLEN];

  if (origin == NULL)
    origin = c->path;
  if (origin != NULL)
    g_string_append_printf(msg, "%s: ", origin);
  g_string_append_printf(msg, "[%s] %s=: %s ", b->group, b->key, tfst_addr_format_ip(&b->addr, ip));
  if (check == TFST_BIND_DAD_FAILED) {
    n.priority = LOG_WARNING;
    g_string_append(msg, "is on this host, but IPv6 duplicate address detection failed for it "
                         "(another host on the link uses it); ");
  } else {
    g_string_append(msg, "is not an address of this host (yet); ");
  }
  g_string_append_printf(msg, "%s; this host has: %s", until_assigned(b), have);
  n.text = g_string_free(g_steal_pointer(&msg), FALSE);
  g_array_append_val(notes, n);
}

static void note(const TfstLog *log, int priority, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void
note(const TfstLog *log, int priority, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  if (log == NULL || !tfst_log_enabled(log, priority))
    return;
  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  tfst_log(log, priority, "%s", msg);
}

static void
check_bind(const TfstHostAddrs *h, const TfstConfig *c, const BindSpec *b, const TfstLog *log,
           GArray *notes)
{
  char ip[INET6_ADDRSTRLEN];
  TfstBindCheck check = tfst_host_addrs_classify(h, &b->addr);

  switch (check) {
    case TFST_BIND_WILDCARD:
    case TFST_BIND_LOCAL:
      break;
    case TFST_BIND_NONLOCAL:
      note(log, LOG_DEBUG, "[%s] %s=%s is not an address of this host; allowed because %s=1",
           b->group, b->key, tfst_addr_format_ip(&b->addr, ip), nonlocal_sysctl(&b->addr));
      break;
    case TFST_BIND_NOT_LOCAL:
    case TFST_BIND_DAD_FAILED:
      add_note(notes, h, c, b, check);
      break;
  }
}

GArray *
tfst_host_addrs_check_config(const TfstHostAddrs *h, const TfstConfig *config, const TfstLog *log)
{
  g_autoptr(GArray) binds = config_binds(config);
  GArray *notes = g_array_new(FALSE, TRUE, sizeof(TfstHostAddrsNote));

  g_array_set_clear_func(notes, (GDestroyNotify)note_clear);
  for (guint i = 0; i < binds->len; i++)
    check_bind(h, config, &g_array_index(binds, BindSpec, i), log, notes);
  return notes;
}

/* ---- reading the host */

static gboolean
read_sysctl_flag(const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autofree char *text = NULL;
  guint64 v = 0;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return FALSE;
  g_strstrip(text);
  return g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &v, NULL) && v != 0;
}

static TfstHostAddrFlags
addr_flags(struct rtnl_addr *ra, struct rtnl_link *link)
{
  TfstHostAddrFlags flags = 0;
  guint ifa = rtnl_addr_get_flags(ra);

  if (link != NULL && !(rtnl_link_get_flags(link) & IFF_UP))
    flags |= TFST_HOST_ADDR_DOWN;
  if (link != NULL && (rtnl_link_get_flags(link) & IFF_LOOPBACK))
    flags |= TFST_HOST_ADDR_LOOPBACK;
  if (ifa & IFA_F_DADFAILED)
    flags |= TFST_HOST_ADDR_DADFAILED;
  else if ((ifa & IFA_F_TENTATIVE) && !(ifa & IFA_F_OPTIMISTIC))
    flags |= TFST_HOST_ADDR_TENTATIVE;
  return flags;
}

static void
add_rtnl_addr(TfstHostAddrs *h, struct nl_cache *links, struct rtnl_addr *ra)
{
  /* for IPv6 libnl reports IFA_ADDRESS as the local address */
  struct nl_addr *local = rtnl_addr_get_local(ra);
  int family = rtnl_addr_get_family(ra);
  int ifindex = rtnl_addr_get_ifindex(ra);
  g_autoptr(TfstRtnlLink) link = links != NULL ? rtnl_link_get(links, ifindex) : NULL;
  g_autofree char *fallback = NULL;
  const char *ifname = link != NULL ? rtnl_link_get_name(link) : NULL;
  TfstSockAddr a = {0};

  if (local == NULL || (family != AF_INET && family != AF_INET6) ||
      nl_addr_get_len(local) != family_len(family))
    return;
  a.sa.sa_family = (sa_family_t)family;
  if (family == AF_INET)
    memcpy(&a.in.sin_addr, nl_addr_get_binary_addr(local), 4);
  else
    memcpy(&a.in6.sin6_addr, nl_addr_get_binary_addr(local), 16);
  if (ifname == NULL)
    ifname = rtnl_addr_get_label(ra);
  if (ifname == NULL)
    ifname = fallback = g_strdup_printf("ifindex %d", ifindex);
  add_entry(h, ifindex, ifname, &a, (guint8)rtnl_addr_get_prefixlen(ra), addr_flags(ra, link));
}

/* By interface, IPv4 before IPv6, otherwise in the kernel's order (the
 * sort is stable). */
static gint
compare_host_addr(gconstpointer pa, gconstpointer pb)
{
  const HostAddr *a = pa, *b = pb;

  if (a->ifindex != b->ifindex)
    return a->ifindex < b->ifindex ? -1 : 1;
  return (gint)(a->family == AF_INET6) - (gint)(b->family == AF_INET6);
}

/* The kernel's answer to "ip route get ADDR": local means bind() works
 * (AnyIP routes, the rest of 127.0.0.0/8).  A failed lookup (no route at
 * all) just means "not local". */
static gboolean
route_is_local(struct nl_sock *sk, const TfstSockAddr *v4)
{
  g_autoptr(TfstNlAddr) dst = nl_addr_build(AF_INET, &v4->in.sin_addr, 4);
  g_autoptr(TfstRtnlRoute) route = NULL;

  if (dst == NULL || rtnl_route_lookup(sk, dst, &route) < 0 || route == NULL)
    return FALSE;
  return rtnl_route_get_type(route) == RTN_LOCAL;
}

static void
probe_routes(TfstHostAddrs *h, struct nl_sock *sk, const GArray *probe)
{
  for (guint i = 0; probe != NULL && i < probe->len; i++) {
    const TfstSockAddr *p = &g_array_index(probe, TfstSockAddr, i);
    TfstSockAddr v4;

    if (!unmap_v4(p, &v4))
      v4 = *p;
    if (v4.sa.sa_family != AF_INET || is_wildcard(&v4) || find_addr(h, &v4) != NULL ||
        in_local_network(h, &v4))
      continue;
    if (route_is_local(sk, &v4))
      tfst_host_addrs_add_local_route(h, &v4, 32);
  }
}

TfstHostAddrs *
tfst_host_addrs_load(const GArray *probe, const char *sysctl_dir, GError **error)
{
  g_autoptr(TfstNlSock) sk = nl_socket_alloc();
  g_autoptr(TfstNlCache) links = NULL;
  g_autoptr(TfstNlCache) addrs = NULL;
  g_autoptr(TfstHostAddrs) h = NULL;
  int r;

  if (sk == NULL) {
    g_set_error_literal(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot allocate a netlink socket");
    return NULL;
  }
  r = nl_connect(sk, NETLINK_ROUTE);
  if (r < 0) {
    tfst_nl_error(error, r, "NETLINK_ROUTE socket");
    return NULL;
  }
  r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
  if (r < 0) {
    tfst_nl_error(error, r, "reading the network interfaces");
    return NULL;
  }
  r = rtnl_addr_alloc_cache(sk, &addrs);
  if (r < 0) {
    tfst_nl_error(error, r, "reading the interface addresses");
    return NULL;
  }
  h = tfst_host_addrs_new();
  for (struct nl_object *o = nl_cache_get_first(addrs); o != NULL; o = nl_cache_get_next(o))
    add_rtnl_addr(h, links, (struct rtnl_addr *)o);
  g_array_sort(h->addrs, compare_host_addr);
  probe_routes(h, sk, probe);
  if (sysctl_dir == NULL)
    sysctl_dir = SYSCTL_DIR;
  tfst_host_addrs_set_nonlocal_bind(h, read_sysctl_flag(sysctl_dir, "ipv4/ip_nonlocal_bind"),
                                    read_sysctl_flag(sysctl_dir, "ipv6/ip_nonlocal_bind"));
  return g_steal_pointer(&h);
}

/* ---- tfstd */

void
tfst_host_addrs_check(const TfstConfig *config, const TfstLog *log)
{
  g_autoptr(GArray) binds = config_binds(config);
  g_autoptr(GArray) probe = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  g_autoptr(TfstHostAddrs) h = NULL;
  g_autoptr(GArray) notes = NULL;
  g_autoptr(GError) local = NULL;

  for (guint i = 0; i < binds->len; i++) {
    const BindSpec *b = &g_array_index(binds, BindSpec, i);

    if (!is_wildcard(&b->addr))
      g_array_append_val(probe, b->addr);
  }
  if (probe->len == 0)
    return;
  h = tfst_host_addrs_load(probe, NULL, &local);
  if (h == NULL) {
    note(log, LOG_WARNING,
         "cannot read this host's addresses, so the configured listen and local addresses are "
         "not checked against them: %s",
         local->message);
    return;
  }
  notes = tfst_host_addrs_check_config(h, config, log);
  for (guint i = 0; i < notes->len; i++) {
    const TfstHostAddrsNote *n = &g_array_index(notes, TfstHostAddrsNote, i);

    note(log, n->priority, "%s", n->text);
  }
}
