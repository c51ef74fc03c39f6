/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Keepalive settings as SetSettings() takes them (daemon/common/tfst-keepalive.c):
 * keys, types, ranges, the FirewallTimeout rule and its flag, all or
 * nothing. */
#include "tfst-error.h"
#include "tfst-keepalive.h"

#include <string.h>

static TfstKeepaliveConf
hop_defaults(void)
{
  TfstKeepaliveConf ka = {.enabled = TRUE,
                          .idle_s = 300,
                          .interval_s = 30,
                          .count = 4,
                          .ping_interval_ms = 15000,
                          .ping_timeout_ms = 45000};
  return ka;
}

static GVariant *
dict(const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

  g_assert_no_error(error);
  return v;
}

/* Merges; on error checks that the message names `word` and that nothing
 * changed.  Returns the warnings. */
static GPtrArray *
merge(TfstKeepaliveConf *ka, gboolean hops, const char *changes, guint flags, const char *word)
{
  g_autoptr(GVariant) v = dict(changes);
  g_autoptr(GError) error = NULL;
  GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
  TfstKeepaliveConf before = *ka;
  gboolean ok = tfst_keepalive_merge(ka, hops, v, flags, warnings, &error);

  if (word == NULL) {
    g_assert_no_error(error);
    g_assert_true(ok);
    return warnings;
  }
  g_assert_false(ok);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
  if (strstr(error->message, word) == NULL)
    g_error("'%s' does not name '%s'", error->message, word);
  g_assert_cmpmem(ka, sizeof(*ka), &before, sizeof(before));
  g_assert_cmpuint(warnings->len, ==, 0);
  return warnings;
}

static void
test_scope(void)
{
  g_autoptr(GError) error = NULL;
  gboolean hops = FALSE;

  g_assert_true(tfst_keepalive_parse_scope("hops", &hops, NULL));
  g_assert_true(hops);
  g_assert_true(tfst_keepalive_parse_scope("sessions", &hops, NULL));
  g_assert_false(hops);
  g_assert_false(tfst_keepalive_parse_scope("Hops", &hops, &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
}

static void
test_to_variant(void)
{
  TfstKeepaliveConf ka = hop_defaults();
  g_autoptr(GVariant) hops = g_variant_ref_sink(tfst_keepalive_to_variant(&ka, TRUE));
  g_autoptr(GVariant) sessions = g_variant_ref_sink(tfst_keepalive_to_variant(&ka, FALSE));
  g_autofree char *h = g_variant_print(hops, FALSE);
  g_autofree char *s = g_variant_print(sessions, FALSE);

  g_assert_cmpstr(h, ==,
                  "{'Keepalive': <true>, 'Idle': <uint32 300>, 'Interval': <uint32 30>, "
                  "'Count': <uint32 4>, 'UserTimeout': <uint32 0>, 'FirewallTimeout': <uint32 0>, "
                  "'PingInterval': <uint32 15000>, 'PingTimeout': <uint32 45000>}");
  g_assert_cmpstr(s, ==,
                  "{'Keepalive': <true>, 'Idle': <uint32 300>, 'Interval': <uint32 30>, "
                  "'Count': <uint32 4>, 'UserTimeout': <uint32 0>, 'FirewallTimeout': <uint32 0>}");
}

static void
test_merge(void)
{
  TfstKeepaliveConf ka = hop_defaults();
  g_autoptr(GPtrArray) w = merge(&ka, TRUE,
                                 "{'Idle': <uint32 20>, 'Interval': <uint32 5>, 'Count': <uint32 "
                                 "2>, 'UserTimeout': <uint32 9000>, 'Keepalive': <false>}",
                                 0, NULL);

  g_assert_cmpuint(w->len, ==, 0);
  g_assert_cmpuint(ka.idle_s, ==, 20);
  g_assert_cmpuint(ka.interval_s, ==, 5);
  g_assert_cmpuint(ka.count, ==, 2);
  g_assert_cmpuint(ka.user_timeout_ms, ==, 9000);
  g_assert_false(ka.enabled);
  g_ptr_array_unref(merge(&ka, TRUE, "{}", 0, NULL));
}

static void
test_refused(void)
{
  TfstKeepaliveConf ka = hop_defaults();
  static const struct {
    gboolean hops;
    const char *changes;
    guint flags;
    const char *word;
  } cases[] = {
      {TRUE, "{'Nonsense': <uint32 1>}", 0, "Nonsense"},
      {TRUE, "{'Idle': <uint32 10>, 'idle': <uint32 1>}", 0, "idle"},
      {TRUE, "{'Idle': <'10'>}", 0, "type"},
      {TRUE, "{'Idle': <uint64 10>}", 0, "Idle"},
      {TRUE, "{'Keepalive': <uint32 1>}", 0, "Keepalive"},
      {TRUE, "{'Idle': <uint32 0>}", 0, "out of range"},
      {TRUE, "{'Idle': <uint32 32768>}", 0, "Idle"},
      {TRUE, "{'Count': <uint32 128>}", 0, "Count"},
      {TRUE, "{'UserTimeout': <uint32 4294967295>}", 0, "UserTimeout"},
      {TRUE, "{'PingInterval': <uint32 99>}", 0, "PingInterval"},
      {TRUE, "{'PingTimeout': <uint32 15000>}", 0, "PingTimeout"},
      {FALSE, "{'PingInterval': <uint32 1000>}", 0, "hops only"},
      {TRUE, "{'Idle': <uint32 10>}", 4, "flags"},
      {TRUE, "{'FirewallTimeout': <uint32 300>}", 0, "FirewallTimeout"},
      {FALSE, "{'FirewallTimeout': <uint32 100>}", 0, "Idle=300"},
      {TRUE, "{'FirewallTimeout': <uint32 15>, 'Idle': <uint32 10>}", 0, "PingInterval"},
      {TRUE, "{'FirewallTimeout': <uint32 15>, 'Idle': <uint32 10>}", 3, "persist"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
    g_ptr_array_unref(merge(&ka, cases[i].hops, cases[i].changes, cases[i].flags, cases[i].word));
}

static void
test_firewall_mismatch_flag(void)
{
  TfstKeepaliveConf ka = hop_defaults();
  g_autoptr(GPtrArray) w = merge(&ka, TRUE, "{'FirewallTimeout': <uint32 60>}",
                                 TFST_KEEPALIVE_ALLOW_FIREWALL_MISMATCH, NULL);
  g_autoptr(GPtrArray) w2 = NULL;
  g_autoptr(GPtrArray) w3 = NULL;

  g_assert_cmpuint(w->len, ==, 1);
  g_assert_nonnull(strstr(g_ptr_array_index(w, 0), "Idle=300 s"));
  g_assert_cmpuint(ka.firewall_timeout_s, ==, 60);
  /* Keepalive off: no probes, and PINGs (15 s) still beat the firewall. */
  w2 = merge(&ka, TRUE, "{'Keepalive': <false>}", 0, NULL);
  g_assert_cmpuint(w2->len, ==, 0);
  /* Sessions have no PINGs: off under a known timeout is advice only. */
  w3 = merge(&ka, FALSE, "{'Keepalive': <false>}", 0, NULL);
  g_assert_cmpuint(w3->len, ==, 1);
  g_assert_nonnull(strstr(g_ptr_array_index(w3, 0), "Keepalive is off"));
}

static void
test_describe(void)
{
  g_autoptr(GVariant) v =
      dict("{'Idle': <uint32 10>, 'UserTimeout': <uint32 500>, 'Keepalive': <true>, 'X': <1>}");
  g_autofree char *text = tfst_keepalive_describe(v);

  g_assert_cmpstr(text, ==, "Idle=10 UserTimeout=500ms Keepalive=yes X=?");
}

/* Persisting writes only the changed keys, merged into what is there,
 * comments kept. */
static void
test_dropin_merge(void)
{
  g_autoptr(GVariant) first = dict("{'Idle': <uint32 77>, 'UserTimeout': <uint32 1500>}");
  g_autoptr(GVariant) second = dict("{'Idle': <uint32 60>, 'Keepalive': <false>}");
  g_autoptr(GError) error = NULL;
  g_autofree char *a = tfst_keepalive_dropin(NULL, first, FALSE, &error);
  g_autofree char *b = NULL;
  g_autofree char *bad = NULL;

  g_assert_no_error(error);
  g_assert_nonnull(strstr(a, "# Written by tfstd"));
  g_assert_nonnull(strstr(a, "[SessionKeepalive]\nIdle=77\nUserTimeout=1500ms\n"));
  b = tfst_keepalive_dropin(a, second, FALSE, &error);
  g_assert_no_error(error);
  g_assert_nonnull(strstr(b, "# Written by tfstd"));
  g_assert_nonnull(strstr(b, "Idle=60\n"));
  g_assert_nonnull(strstr(b, "UserTimeout=1500ms\n"));
  g_assert_nonnull(strstr(b, "Keepalive=no\n"));
  g_assert_null(strstr(b, "Idle=77"));
  bad = tfst_keepalive_dropin("not a key file", first, TRUE, &error);
  g_assert_null(bad);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_FAILED);
}

/* A caller's argument in an error message: short, and no raw control
 * byte (an 8 MiB scope full of them was echoed whole). */
static void
test_quote_arg(void)
{
  static const char *const cases[][2] = {
      {"hops", "hops"},
      {"", ""},
      {"a\nb\x1b[31m", "a\\x0ab\\x1b[31m"},
      {"it's \"x\" \\", "it\\x27s \\x22x\\x22 \\x5c"},
      {"r\xc3\xa9seau", "r\xc3\xa9seau"},            /* printable UTF-8 stays */
      {"\xe2\x80\xaelabel", "\\xe2\\x80\\xaelabel"}, /* a bidi override does not */
      {"bad\xff", "bad\\xff"},                       /* not UTF-8 */
  };
  g_autofree char *huge = g_strnfill(8 * 1024 * 1024, '\x01');
  g_autofree char *shown = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *q = tfst_error_quote_arg(cases[i][0]);
    g_assert_cmpstr(q, ==, cases[i][1]);
  }
  shown = tfst_error_quote_arg(huge);
  g_assert_cmpuint(strlen(shown), ==, TFST_ERROR_QUOTE_MAX * 4 + strlen("…"));
  g_assert_true(g_str_has_suffix(shown, "\\x01…"));
  g_clear_pointer(&shown, g_free);
  shown = tfst_error_quote_arg(NULL);
  g_assert_cmpstr(shown, ==, "(null)");
}

/* The Keepalive scope argument, as GetSettings/SetSettings echo it. */
static void
test_scope_echo(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) scope = g_string_new(NULL);
  gboolean hops = FALSE;

  while (scope->len < 8 * 1024 * 1024)
    g_string_append(scope, "\x1b]0;owned\x07\n");
  g_assert_false(tfst_keepalive_parse_scope(scope->str, &hops, &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
  g_assert_cmpuint(strlen(error->message), <, 512);
  for (const char *p = error->message; *p != '\0'; p++)
    g_assert_false(g_ascii_iscntrl(*p));
  g_assert_true(g_str_has_prefix(error->message, "unknown scope '\\x1b]0;owned\\x07\\x0a"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/keepalive/scope", test_scope);
  g_test_add_func("/tfst/keepalive/quote-arg", test_quote_arg);
  g_test_add_func("/tfst/keepalive/scope-echo", test_scope_echo);
  g_test_add_func("/tfst/keepalive/to-variant", test_to_variant);
  g_test_add_func("/tfst/keepalive/merge", test_merge);
  g_test_add_func("/tfst/keepalive/refused", test_refused);
  g_test_add_func("/tfst/keepalive/firewall-mismatch-flag", test_firewall_mismatch_flag);
  g_test_add_func("/tfst/keepalive/describe", test_describe);
  g_test_add_func("/tfst/keepalive/dropin-merge", test_dropin_merge);
  return g_test_run();
}
