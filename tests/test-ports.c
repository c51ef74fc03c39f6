/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-addr.h"
#include "tfst-error.h"
#include "tfst-ports.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>

/* Loopback ports this test may listen on; it takes the first free one from
 * the top so it stays clear of integration tests that allocate upwards. */
#define TEST_PORT_LO 26600
#define TEST_PORT_HI 26699

static void
test_candidates_default(void)
{
  g_autoptr(GArray) ports = tfst_ports_candidates(1918, 0, 0);

  g_assert_cmpuint(ports->len, ==, 16);
  g_assert_cmpuint(g_array_index(ports, guint16, 0), ==, 1918);
  g_assert_cmpuint(g_array_index(ports, guint16, 1), ==, 6014);
  g_assert_cmpuint(g_array_index(ports, guint16, 2), ==, 10110);
  g_assert_cmpuint(g_array_index(ports, guint16, 15), ==, 63358);
  for (guint i = 1; i < ports->len; i++)
    g_assert_cmpuint(g_array_index(ports, guint16, i) - g_array_index(ports, guint16, i - 1), ==,
                     4096);
}

static void
test_candidates_skip_count(void)
{
  g_autoptr(GArray) a = tfst_ports_candidates(1918, 2, 3);
  g_autoptr(GArray) b = tfst_ports_candidates(1918, 14, 5);
  g_autoptr(GArray) c = tfst_ports_candidates(1918, 16, 0);
  g_autoptr(GArray) d = tfst_ports_candidates(65535, 0, 0);
  g_autoptr(GArray) e = tfst_ports_candidates(0, 0, 2);

  g_assert_cmpuint(a->len, ==, 3);
  g_assert_cmpuint(g_array_index(a, guint16, 0), ==, 10110);
  g_assert_cmpuint(g_array_index(a, guint16, 2), ==, 18302);
  /* count larger than what fits stops at 65535 */
  g_assert_cmpuint(b->len, ==, 2);
  g_assert_cmpuint(g_array_index(b, guint16, 1), ==, 63358);
  g_assert_cmpuint(c->len, ==, 0);
  g_assert_cmpuint(d->len, ==, 1);
  g_assert_cmpuint(g_array_index(d, guint16, 0), ==, 65535);
  /* port 0 ("any") is never a candidate */
  g_assert_cmpuint(e->len, ==, 1);
  g_assert_cmpuint(g_array_index(e, guint16, 0), ==, 4096);
}

static void
test_range_parse(void)
{
  const char *bad[] = {"", "1", "a b", "3 2", "1 2 3", "70000 70001", "-1 5"};
  TfstPortRange r;

  g_assert_true(tfst_port_range_parse("32768\t60999\n", &r, NULL));
  g_assert_cmpuint(r.lo, ==, 32768);
  g_assert_cmpuint(r.hi, ==, 60999);
  g_assert_true(tfst_port_range_parse(" 1024 1024 ", &r, NULL));
  g_assert_cmpuint(r.lo, ==, 1024);
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    TfstPortRange untouched = {1, 2};
    g_assert_false(tfst_port_range_parse(bad[i], &untouched, &error));
    g_assert_nonnull(error);
    g_assert_cmpuint(untouched.lo, ==, 1);
  }
}

static void
test_list_parse(void)
{
  const char *bad[] = {"x", "5-3", "1,,2", "70000", "1-", "-5", "1 2"};
  g_autoptr(GArray) l = NULL;
  g_autoptr(GArray) empty = NULL;
  g_autoptr(GArray) merged = NULL;
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  g_autofree char *s3 = NULL;
  g_autofree char *s4 = NULL;

  l = tfst_port_list_parse("1918,6014-6020\n", NULL);
  g_assert_nonnull(l);
  g_assert_cmpuint(l->len, ==, 2);
  g_assert_true(tfst_port_list_contains(l, 1918));
  g_assert_true(tfst_port_list_contains(l, 6014));
  g_assert_true(tfst_port_list_contains(l, 6017));
  g_assert_true(tfst_port_list_contains(l, 6020));
  g_assert_false(tfst_port_list_contains(l, 6021));
  g_assert_false(tfst_port_list_contains(l, 1919));
  s1 = tfst_port_list_format(l);
  g_assert_cmpstr(s1, ==, "1918,6014-6020");

  empty = tfst_port_list_parse("\n", NULL);
  g_assert_nonnull(empty);
  g_assert_cmpuint(empty->len, ==, 0);
  s2 = tfst_port_list_format(empty);
  g_assert_cmpstr(s2, ==, "");

  merged = tfst_port_list_parse("5-7, 1,2,3-4,6", NULL);
  g_assert_nonnull(merged);
  s3 = tfst_port_list_format(merged);
  g_assert_cmpstr(s3, ==, "1-7");
  tfst_port_list_add(merged, 8);
  tfst_port_list_add(merged, 10);
  tfst_port_list_add(merged, 65535);
  tfst_port_list_add(merged, 3);
  s4 = tfst_port_list_format(merged);
  g_assert_cmpstr(s4, ==, "1-8,10,65535");

  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) none = tfst_port_list_parse(bad[i], &error);
    g_assert_null(none);
    g_assert_nonnull(error);
  }
}

static void
write_file(const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true(g_file_set_contents(path, text, -1, &error));
  g_assert_no_error(error);
}

static void
remove_file(const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);

  g_unlink(path);
}

static void
test_sysctl_load(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("tfst-sysctl-XXXXXX", &error);
  g_autoptr(TfstPortSysctl) s = NULL;
  g_autoptr(TfstPortSysctl) old = NULL;
  g_autoptr(TfstPortSysctl) broken = NULL;

  g_assert_no_error(error);
  write_file(dir, "ip_local_port_range", "32768\t60999\n");
  write_file(dir, "ip_local_reserved_ports", "1918,6014-6020\n");
  write_file(dir, "ip_unprivileged_port_start", "80\n");
  s = tfst_port_sysctl_load(dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(s->ephemeral.lo, ==, 32768);
  g_assert_cmpuint(s->ephemeral.hi, ==, 60999);
  g_assert_cmpuint(s->unprivileged_start, ==, 80);
  g_assert_true(tfst_port_sysctl_is_reserved(s, 6015));
  g_assert_true(tfst_port_sysctl_is_ephemeral(s, 32768));
  g_assert_false(tfst_port_sysctl_is_ephemeral(s, 61000));

  /* Kernels before 4.11: no ip_unprivileged_port_start, 1024 applies. */
  remove_file(dir, "ip_unprivileged_port_start");
  remove_file(dir, "ip_local_reserved_ports");
  old = tfst_port_sysctl_load(dir, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(old->unprivileged_start, ==, 1024);
  g_assert_cmpuint(old->reserved->len, ==, 0);

  write_file(dir, "ip_local_port_range", "garbage\n");
  broken = tfst_port_sysctl_load(dir, &error);
  g_assert_null(broken);
  g_assert_nonnull(error);

  remove_file(dir, "ip_local_port_range");
  g_rmdir(dir);
}

typedef struct {
  int fd;
  int fd6; /* -1 when IPv6 loopback is unavailable */
  guint16 port;
  TfstSockAddr addr;
  char *comm;
  char *unit; /* what sd-login says of this process; NULL outside systemd */
} Listener;

static int
listen_on(const char *ip, guint16 port)
{
  TfstSockAddr a;
  int fd;

  g_assert_true(tfst_addr_parse_ip(ip, &a));
  tfst_addr_set_port(&a, port);
  fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (a.sa.sa_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, &a.sa, tfst_addr_len(&a)) < 0 || listen(fd, 8) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

static void
listener_setup(Listener *l, gconstpointer data)
{
  g_autofree char *comm = NULL;

  l->fd = -1;
  l->fd6 = -1;
  for (guint port = TEST_PORT_HI; port >= TEST_PORT_LO && l->fd < 0; port--) {
    l->fd = listen_on("127.0.0.1", port);
    l->port = port;
  }
  g_assert_cmpint(l->fd, >=, 0);
  g_assert_true(tfst_addr_parse_ip("127.0.0.1", &l->addr));
  tfst_addr_set_port(&l->addr, l->port);
  l->fd6 = listen_on("::1", l->port);
  g_assert_true(g_file_get_contents("/proc/self/comm", &comm, NULL, NULL));
  l->comm = g_strdup(g_strchomp(comm));
  if (sd_pid_get_user_unit(0, &l->unit) < 0)
    (void)sd_pid_get_unit(0, &l->unit);
}

static void
listener_teardown(Listener *l, gconstpointer data)
{
  if (l->fd >= 0)
    close(l->fd);
  if (l->fd6 >= 0)
    close(l->fd6);
  g_free(l->comm);
  free(l->unit);
}

static void
test_owner_self(Listener *l, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) owners = tfst_port_owners(l->port, TFST_PORT_OWNERS_LISTENING, &error);
  guint mine = 0;
  gboolean v4 = FALSE;
  gboolean v6 = FALSE;

  g_assert_no_error(error);
  g_assert_nonnull(owners);
  for (guint i = 0; i < owners->len; i++) {
    const TfstPortOwner *o = g_ptr_array_index(owners, i);
    g_assert_cmpuint(o->port, ==, l->port);
    g_assert_cmpuint(o->tcp_state, ==, TCP_LISTEN);
    if (o->pid != getpid())
      continue;
    mine++;
    g_assert_cmpstr(o->comm, ==, l->comm);
    g_assert_cmpuint(o->uid, ==, getuid());
    g_assert_cmpuint(o->inode, !=, 0);
    g_assert_false(o->hidden);
    g_assert_cmpstr(o->unit, ==, l->unit);
    v4 |= o->local.sa.sa_family == AF_INET;
    v6 |= o->local.sa.sa_family == AF_INET6;
  }
  g_assert_true(v4);
  if (l->fd6 >= 0)
    g_assert_true(v6);
  g_assert_cmpuint(mine, ==, l->fd6 >= 0 ? 2 : 1);
}

static void
test_owner_lookup_many(Listener *l, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const guint16 ports[] = {1, l->port, 2};
  g_autoptr(GPtrArray) owners =
      tfst_port_owners_lookup(ports, G_N_ELEMENTS(ports), TFST_PORT_OWNERS_CONNECTIONS, &error);
  gboolean found = FALSE;

  g_assert_no_error(error);
  for (guint i = 0; i < owners->len; i++) {
    const TfstPortOwner *o = g_ptr_array_index(owners, i);
    g_autofree char *d = tfst_port_owner_describe(o);
    if (o->pid == getpid() && o->port == l->port) {
      g_autofree char *expect = g_strdup_printf("pid %d (%s)", (int)getpid(), l->comm);
      g_assert_true(g_str_has_prefix(d, expect));
      found = TRUE;
    }
  }
  g_assert_true(found);
}

static void
test_diagnosis_in_use(Listener *l, gconstpointer data)
{
  g_autofree char *text = NULL;
  g_autofree char *want_pid = g_strdup_printf("pid %d (%s)", (int)getpid(), l->comm);
  g_autofree char *want_port = g_strdup_printf("port %u ", l->port);
  g_autoptr(GError) error = NULL;
  int fd = listen_on("127.0.0.1", l->port);

  /* The kernel really refuses the port, and the text says why. */
  g_assert_cmpint(fd, ==, -EADDRINUSE);
  text = tfst_bind_diagnosis(&l->addr, EADDRINUSE);
  g_test_message("diagnosis: %s", text);
  g_assert_nonnull(strstr(text, want_port));
  g_assert_nonnull(strstr(text, "held by"));
  g_assert_nonnull(strstr(text, want_pid));
  /* 0.0.0.0 and [::1] listeners of one process are named once */
  g_assert_null(strstr(strstr(text, want_pid) + 1, want_pid));

  tfst_error_from_errno(&error, EADDRINUSE, "cannot bind children listener on port %u", l->port);
  tfst_bind_diagnosis_add_to_error(&error, &l->addr, EADDRINUSE);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_BIND);
  g_assert_true(g_str_has_prefix(error->message, "cannot bind children listener"));
  g_assert_nonnull(strstr(error->message, want_pid));
  tfst_bind_diagnosis_add_to_error(NULL, &l->addr, EADDRINUSE);
}

static TfstPortSysctl *
fake_sysctl(guint lo, guint hi, const char *reserved, guint unpriv)
{
  TfstPortSysctl *s = g_new0(TfstPortSysctl, 1);

  s->ephemeral.lo = lo;
  s->ephemeral.hi = hi;
  s->reserved = tfst_port_list_parse(reserved, NULL);
  s->unprivileged_start = unpriv;
  return s;
}

static char *
diagnose(const char *ip, guint16 port, int err, const TfstPortSysctl *s)
{
  TfstSockAddr a;

  g_assert_true(tfst_addr_parse_ip(ip, &a));
  tfst_addr_set_port(&a, port);
  return tfst_bind_diagnosis_full(&a, err, s);
}

static void
test_diagnosis_eacces_fake(void)
{
  g_autoptr(TfstPortSysctl) s = fake_sysctl(32768, 60999, "", 1024);
  g_autofree char *priv = diagnose("0.0.0.0", 80, EACCES, s);
  g_autofree char *policy = diagnose("0.0.0.0", 2000, EACCES, s);
  g_autofree char *perm = diagnose("0.0.0.0", 2000, EPERM, s);

  g_assert_true(g_str_has_prefix(priv, "port 80 "));
  g_assert_nonnull(strstr(priv, "ports below 1024 need CAP_NET_BIND_SERVICE"));
  g_assert_nonnull(strstr(priv, "AmbientCapabilities=CAP_NET_BIND_SERVICE"));
  g_assert_nonnull(strstr(priv, "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"));
  g_assert_nonnull(strstr(priv, "net.ipv4.ip_unprivileged_port_start"));
  g_assert_nonnull(strstr(policy, "port 2000"));
  g_assert_nonnull(strstr(policy, "a security policy refused the bind"));
  g_assert_null(strstr(policy, "CAP_NET_BIND_SERVICE"));
  g_assert_nonnull(strstr(perm, "a security policy refused the bind"));
}

/* The same against the running kernel's setting, as the daemon sees it. */
static void
test_diagnosis_eacces_proc(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstPortSysctl) s = tfst_port_sysctl_load(NULL, &error);
  TfstSockAddr a;
  g_autofree char *text = NULL;

  if (s == NULL) {
    g_autofree char *why = g_strdup_printf("cannot read /proc/sys/net/ipv4: %s", error->message);
    g_test_skip(why);
    return;
  }
  if (s->unprivileged_start <= 80) {
    g_autofree char *why =
        g_strdup_printf("net.ipv4.ip_unprivileged_port_start is %u: port 80 is not privileged here",
                        s->unprivileged_start);
    g_test_skip(why);
    return;
  }
  g_assert_true(tfst_addr_parse_ip("127.0.0.1", &a));
  tfst_addr_set_port(&a, 80);
  text = tfst_bind_diagnosis(&a, EACCES);
  g_assert_nonnull(strstr(text, "port 80"));
  g_assert_nonnull(strstr(text, "CAP_NET_BIND_SERVICE"));
}

static void
test_diagnosis_addrnotavail(void)
{
  g_autoptr(TfstPortSysctl) s = fake_sysctl(32768, 60999, "", 1024);
  g_autofree char *v4 = diagnose("192.0.2.7", 1918, EADDRNOTAVAIL, s);
  g_autofree char *v6 = diagnose("2001:db8::7", 6014, EADDRNOTAVAIL, s);

  g_assert_nonnull(strstr(v4, "port 1918"));
  g_assert_nonnull(strstr(v4, "address 192.0.2.7 is not on this host"));
  g_assert_nonnull(strstr(v6, "address [2001:db8::7] is not on this host"));
  /* listeners bind with IP_FREEBIND: the sysctl would not help */
  g_assert_null(strstr(v4, "nonlocal_bind"));
  g_assert_null(strstr(v4, "ephemeral"));
}

static void
test_diagnosis_ephemeral(void)
{
  g_autoptr(TfstPortSysctl) s = fake_sysctl(32768, 60999, "1918,6014-6020", 1024);
  g_autoptr(TfstPortSysctl) none = fake_sysctl(32768, 60999, "", 1024);
  g_autofree char *inside = diagnose("192.0.2.7", 40000, EADDRNOTAVAIL, s);
  g_autofree char *first = diagnose("192.0.2.7", 40000, EADDRNOTAVAIL, none);
  g_autofree char *adjacent = diagnose(
      "192.0.2.7", 6021, EADDRNOTAVAIL,
      (const TfstPortSysctl *)&(TfstPortSysctl){
          .ephemeral = {1024, 65535}, .reserved = s->reserved, .unprivileged_start = 1024});
  g_autofree char *reserved = NULL;
  g_autofree char *outside = diagnose("192.0.2.7", 61000, EADDRNOTAVAIL, s);

  g_assert_nonnull(strstr(inside, "port 40000 is inside the ephemeral range 32768-60999 "
                                  "(net.ipv4.ip_local_port_range): outgoing connections may "
                                  "take it; reserve it with: sysctl -w "
                                  "net.ipv4.ip_local_reserved_ports=1918,6014-6020,40000 (add "
                                  "it to /etc/sysctl.d/)"));
  g_assert_nonnull(strstr(first, "net.ipv4.ip_local_reserved_ports=40000 "));
  g_assert_nonnull(strstr(adjacent, "net.ipv4.ip_local_reserved_ports=1918,6014-6021 "));
  g_assert_null(strstr(outside, "ephemeral"));

  tfst_port_list_add(s->reserved, 40000);
  reserved = diagnose("192.0.2.7", 40000, EADDRNOTAVAIL, s);
  g_assert_null(strstr(reserved, "ephemeral"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/ports/candidates-default", test_candidates_default);
  g_test_add_func("/tfst/ports/candidates-skip-count", test_candidates_skip_count);
  g_test_add_func("/tfst/ports/range-parse", test_range_parse);
  g_test_add_func("/tfst/ports/list-parse", test_list_parse);
  g_test_add_func("/tfst/ports/sysctl-load", test_sysctl_load);
  g_test_add("/tfst/ports/owner-self", Listener, NULL, listener_setup, test_owner_self,
             listener_teardown);
  g_test_add("/tfst/ports/owner-lookup-many", Listener, NULL, listener_setup,
             test_owner_lookup_many, listener_teardown);
  g_test_add("/tfst/ports/diagnosis-in-use", Listener, NULL, listener_setup, test_diagnosis_in_use,
             listener_teardown);
  g_test_add_func("/tfst/ports/diagnosis-eacces", test_diagnosis_eacces_fake);
  g_test_add_func("/tfst/ports/diagnosis-eacces-proc", test_diagnosis_eacces_proc);
  g_test_add_func("/tfst/ports/diagnosis-addrnotavail", test_diagnosis_addrnotavail);
  g_test_add_func("/tfst/ports/diagnosis-ephemeral", test_diagnosis_ephemeral);
  return g_test_run();
}
