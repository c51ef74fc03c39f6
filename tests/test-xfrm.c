/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SPI-conflict rules of tfst-xfrm.c over SA lists built here: no
 * kernel involved. */
#include "tfst-error.h"
#include "tfst-xfrm.h"

#include <string.h>

static TfstXfrmSa
sa(guint32 spi, guint8 proto, const char *source, const char *destination)
{
  TfstXfrmSa s;

  memset(&s, 0, sizeof(s));
  s.spi = spi;
  s.proto = proto;
  g_strlcpy(s.source, source, sizeof(s.source));
  g_strlcpy(s.destination, destination, sizeof(s.destination));
  g_strlcpy(s.mode, "tunnel", sizeof(s.mode));
  return s;
}

static GArray *
sa_list(const TfstXfrmSa *sas, guint n)
{
  GArray *a = g_array_new(FALSE, FALSE, sizeof(TfstXfrmSa));

  g_array_append_vals(a, sas, n);
  return a;
}

static void
test_classify(void)
{
  TfstXfrmSa a = sa(0x1000, IPPROTO_ESP, "10.0.0.1", "10.0.0.2");
  TfstXfrmSa larval = sa(0, IPPROTO_ESP, "10.0.0.1", "10.0.0.2");

  /* The kernel's key: destination, SPI, protocol; the source does not count. */
  g_assert_cmpint(tfst_xfrm_classify(&a, 0x1000, "10.0.0.2", IPPROTO_ESP), ==,
                  TFST_XFRM_CONFLICT_SAME_DESTINATION);
  g_assert_cmpint(tfst_xfrm_classify(&a, 0x1000, "10.0.0.3", IPPROTO_ESP), ==,
                  TFST_XFRM_CONFLICT_OTHER_TUNNEL);
  g_assert_cmpint(tfst_xfrm_classify(&a, 0x1000, "10.0.0.2", IPPROTO_AH), ==,
                  TFST_XFRM_CONFLICT_OTHER_TUNNEL);
  g_assert_cmpint(tfst_xfrm_classify(&a, 0x1000, "fd00::2", IPPROTO_ESP), ==,
                  TFST_XFRM_CONFLICT_OTHER_TUNNEL);
  g_assert_cmpint(tfst_xfrm_classify(&a, 0x1001, "10.0.0.2", IPPROTO_ESP), ==,
                  TFST_XFRM_CONFLICT_NONE);
  /* Larval SAs without an SPI collide with nothing. */
  g_assert_cmpint(tfst_xfrm_classify(&larval, 0, "10.0.0.2", IPPROTO_ESP), ==,
                  TFST_XFRM_CONFLICT_NONE);

  TfstXfrmSa other_src = sa(0x1000, IPPROTO_ESP, "10.0.0.9", "10.0.0.2");
  TfstXfrmSa reverse = sa(0x1000, IPPROTO_ESP, "10.0.0.2", "10.0.0.1");
  g_assert_cmpint(tfst_xfrm_classify_pair(&a, &other_src), ==, TFST_XFRM_CONFLICT_SAME_DESTINATION);
  g_assert_cmpint(tfst_xfrm_classify_pair(&a, &reverse), ==, TFST_XFRM_CONFLICT_OTHER_TUNNEL);

  g_assert_cmpstr(tfst_xfrm_conflict_to_string(TFST_XFRM_CONFLICT_SAME_DESTINATION), ==,
                  "same-destination");
  g_assert_cmpstr(tfst_xfrm_conflict_to_string(TFST_XFRM_CONFLICT_OTHER_TUNNEL), ==,
                  "other-tunnel");
  g_assert_null(tfst_xfrm_conflict_to_string(TFST_XFRM_CONFLICT_NONE));
}

static void
test_arguments(void)
{
  g_autoptr(GError) error = NULL;
  char addr[INET6_ADDRSTRLEN];
  char buf[4];
  guint8 proto = 0;

  g_assert_true(tfst_xfrm_proto_from_string("esp", &proto, NULL));
  g_assert_cmpuint(proto, ==, IPPROTO_ESP);
  g_assert_true(tfst_xfrm_proto_from_string("ah", &proto, NULL));
  g_assert_cmpuint(proto, ==, IPPROTO_AH);
  g_assert_true(tfst_xfrm_proto_from_string("comp", &proto, NULL));
  g_assert_cmpuint(proto, ==, IPPROTO_COMP);
  g_assert_false(tfst_xfrm_proto_from_string("ESP ", &proto, &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
  g_assert_nonnull(strstr(error->message, "'ESP '"));
  g_clear_error(&error);
  g_assert_cmpstr(tfst_xfrm_proto_to_string(IPPROTO_AH, buf), ==, "ah");
  g_assert_cmpstr(tfst_xfrm_proto_to_string(99, buf), ==, "99");

  g_assert_true(tfst_xfrm_canonical_address("fd00:0::0002", addr, NULL));
  g_assert_cmpstr(addr, ==, "fd00::2");
  g_assert_true(tfst_xfrm_canonical_address("10.0.0.2", addr, NULL));
  g_assert_cmpstr(addr, ==, "10.0.0.2");
  g_assert_false(tfst_xfrm_canonical_address("gw.example", addr, &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
  g_assert_nonnull(strstr(error->message, "gw.example"));
  g_clear_error(&error);

  for (guint32 spi = 1; spi <= 255; spi++) {
    g_assert_false(tfst_xfrm_spi_valid(spi, &error));
    g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
    g_clear_error(&error);
  }
  g_assert_true(tfst_xfrm_spi_valid(256, NULL));
  g_assert_true(tfst_xfrm_spi_valid(G_MAXUINT32, NULL));
}

static void
test_conflicts_of(void)
{
  const TfstXfrmSa list[] = {
      sa(0x1000, IPPROTO_ESP, "10.0.0.1", "10.0.0.2"),
      sa(0x2000, IPPROTO_ESP, "10.0.0.1", "10.0.0.2"),
      sa(0x1000, IPPROTO_ESP, "10.0.0.3", "10.0.0.4"),
      sa(0, IPPROTO_ESP, "10.0.0.5", "10.0.0.6"),
      sa(0, IPPROTO_ESP, "10.0.0.7", "10.0.0.8"),
  };
  g_autoptr(GArray) sas = sa_list(list, G_N_ELEMENTS(list));
  g_autoptr(GArray) c1 = NULL, c2 = NULL, c3 = NULL;
  TfstXfrmConflict kind = TFST_XFRM_CONFLICT_NONE;

  /* The new SA is in the list itself and does not collide with itself. */
  c1 = tfst_xfrm_conflicts_of(sas, &list[2], &kind);
  g_assert_cmpuint(c1->len, ==, 1);
  g_assert_cmpint(kind, ==, TFST_XFRM_CONFLICT_OTHER_TUNNEL);
  g_assert_cmpstr(g_array_index(c1, TfstXfrmSa, 0).destination, ==, "10.0.0.2");

  c2 = tfst_xfrm_conflicts_of(sas, &list[1], &kind);
  g_assert_cmpuint(c2->len, ==, 0);
  g_assert_cmpint(kind, ==, TFST_XFRM_CONFLICT_NONE);

  /* A second entry with the same key (the kernel allows it with other
   * marks) is a same-destination conflict, and that kind wins. */
  TfstXfrmSa twin = list[0];
  g_array_append_val(sas, twin);
  c3 = tfst_xfrm_conflicts_of(sas, &twin, &kind);
  g_assert_cmpuint(c3->len, ==, 2);
  g_assert_cmpint(kind, ==, TFST_XFRM_CONFLICT_SAME_DESTINATION);
}

static void
test_find_conflicts(void)
{
  const TfstXfrmSa list[] = {
      sa(0x3000, IPPROTO_ESP, "10.0.0.1", "10.0.0.2"), /* other-tunnel with the next two */
      sa(0x1000, IPPROTO_ESP, "10.0.0.1", "10.0.0.2"), /* same-destination with [4] */
      sa(0x3000, IPPROTO_AH, "10.0.0.1", "10.0.0.2"),
      sa(0x2000, IPPROTO_ESP, "10.0.0.1", "10.0.0.2"), /* alone */
      sa(0x1000, IPPROTO_ESP, "10.0.0.9", "10.0.0.2"),
      sa(0x3000, IPPROTO_ESP, "fd00::1", "fd00::2"),
      sa(0, IPPROTO_ESP, "10.0.0.5", "10.0.0.6"), /* larval: never */
      sa(0, IPPROTO_ESP, "10.0.0.7", "10.0.0.6"),
  };
  g_autoptr(GArray) sas = sa_list(list, G_N_ELEMENTS(list));
  g_autoptr(GPtrArray) groups = tfst_xfrm_find_conflicts(sas);
  const TfstXfrmConflictGroup *g;

  g_assert_cmpuint(groups->len, ==, 2);
  g = g_ptr_array_index(groups, 0);
  g_assert_cmpuint(g->spi, ==, 0x1000);
  g_assert_cmpint(g->kind, ==, TFST_XFRM_CONFLICT_SAME_DESTINATION);
  g_assert_cmpuint(g->sas->len, ==, 2);
  g_assert_cmpstr(g_array_index(g->sas, TfstXfrmSa, 0).source, ==, "10.0.0.1");
  g_assert_cmpstr(g_array_index(g->sas, TfstXfrmSa, 1).source, ==, "10.0.0.9");
  g = g_ptr_array_index(groups, 1);
  g_assert_cmpuint(g->spi, ==, 0x3000);
  g_assert_cmpint(g->kind, ==, TFST_XFRM_CONFLICT_OTHER_TUNNEL);
  g_assert_cmpuint(g->sas->len, ==, 3);
  g_assert_cmpuint(g_array_index(g->sas, TfstXfrmSa, 1).proto, ==, IPPROTO_AH);
  g_assert_cmpstr(g_array_index(g->sas, TfstXfrmSa, 2).destination, ==, "fd00::2");
}

/* One SPI with both kinds: two SAs to the same destination and one to
 * another give a same-destination group of two and an other-tunnel group
 * of all three. */
static void
test_find_conflicts_both_kinds(void)
{
  const TfstXfrmSa list[] = {
      sa(0x4000, IPPROTO_ESP, "10.0.0.1", "10.0.0.2"),
      sa(0x4000, IPPROTO_ESP, "10.0.0.3", "10.0.0.4"),
      sa(0x4000, IPPROTO_ESP, "10.0.0.9", "10.0.0.2"),
  };
  g_autoptr(GArray) sas = sa_list(list, G_N_ELEMENTS(list));
  g_autoptr(GPtrArray) groups = tfst_xfrm_find_conflicts(sas);
  g_autoptr(GArray) empty = sa_list(list, 0);
  g_autoptr(GPtrArray) none = tfst_xfrm_find_conflicts(empty);
  const TfstXfrmConflictGroup *g;

  g_assert_cmpuint(groups->len, ==, 2);
  g = g_ptr_array_index(groups, 0);
  g_assert_cmpint(g->kind, ==, TFST_XFRM_CONFLICT_SAME_DESTINATION);
  g_assert_cmpuint(g->sas->len, ==, 2);
  g = g_ptr_array_index(groups, 1);
  g_assert_cmpint(g->kind, ==, TFST_XFRM_CONFLICT_OTHER_TUNNEL);
  g_assert_cmpuint(g->sas->len, ==, 3);
  g_assert_cmpuint(none->len, ==, 0);
}

static void
test_parse_stat(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = tfst_xfrm_parse_stat("XfrmInError             \t0\n"
                                               "XfrmInNoStates          \t17\n"
                                               "XfrmOutStateSeqError    \t18446744073709551615\n",
                                               &error);
  guint64 n = 0;

  g_assert_no_error(error);
  g_assert_cmpuint(g_variant_n_children(v), ==, 3);
  g_assert_true(g_variant_lookup(v, "XfrmInNoStates", "t", &n));
  g_assert_cmpuint(n, ==, 17);
  g_assert_true(g_variant_lookup(v, "XfrmOutStateSeqError", "t", &n));
  g_assert_cmpuint(n, ==, G_MAXUINT64);

  g_assert_null(tfst_xfrm_parse_stat("XfrmInError 0\nXfrmInNoStates x\n", &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_FAILED);
  g_assert_nonnull(strstr(error->message, "line 2"));
  g_clear_error(&error);
  g_assert_null(tfst_xfrm_parse_stat("XfrmInError 0 1\n", &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_FAILED);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/xfrm/classify", test_classify);
  g_test_add_func("/tfst/xfrm/arguments", test_arguments);
  g_test_add_func("/tfst/xfrm/conflicts-of", test_conflicts_of);
  g_test_add_func("/tfst/xfrm/find-conflicts", test_find_conflicts);
  g_test_add_func("/tfst/xfrm/find-conflicts-both-kinds", test_find_conflicts_both_kinds);
  g_test_add_func("/tfst/xfrm/parse-stat", test_parse_stat);
  return g_test_run();
}
