/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The TLS keys of [Parent] / [Children]: what the loader refuses, with
 * FILE:LINE: [Section] Key=: reason, and the credentials it loads.
 * Certificates are made here with GnuTLS (self-signed: each is its own
 * CA), so the test needs no tool. */
#include "tfst-gnutls.h"
#include "tfst-config.h"
#include "tfst-error.h"
#include "tfst-file.h"
#include "tfst-tls.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define GW_HEAD "[Instance]\nLabel=gw1\n[Parent]\nConnect=127.0.0.1:21002\n"

typedef struct {
  char *dir;
  char *cert; /* names gw1 as dNSName */
  char *key;
} Fixture;

static void
write_datum(const char *path, const gnutls_datum_t *d)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents(path, (const char *)d->data, d->size, &error);
  g_assert_no_error(error);
}

/* A self-signed ECDSA certificate naming `san` (a dNSName, or a URI when
 * it contains ':'), valid from `from` to `to` (seconds from now). */
static void
make_cert(const char *cert_path, const char *key_path, const char *san, gint64 from, gint64 to)
{
  g_auto(gnutls_x509_crt_t) crt = NULL;
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t out = {NULL, 0};
  time_t now = time(NULL);
  guint8 serial[8];

  g_assert_cmpint(gnutls_x509_privkey_init(&key), ==, 0);
  g_assert_cmpint(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                               GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                  ==, 0);
  g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
  for (gsize i = 0; i < sizeof(serial); i++)
    serial[i] = (guint8)g_random_int_range(1, 255);
  serial[0] &= 0x7f;
  g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, now + from), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, now + to), ==, 0);
  g_assert_cmpint(
      gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, san, strlen(san)), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_set_subject_alt_name(
                      crt, strchr(san, ':') != NULL ? GNUTLS_SAN_URI : GNUTLS_SAN_DNSNAME, san,
                      strlen(san), GNUTLS_FSAN_SET),
                  ==, 0);
  g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(crt, 1, -1), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_set_key(crt, key), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out), ==, 0);
  write_datum(cert_path, &out);
  gnutls_free(out.data);
  g_assert_cmpint(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &out), ==, 0);
  write_datum(key_path, &out);
  gnutls_free(out.data);
  gnutls_x509_privkey_deinit(key);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp("tfst-tls-XXXXXX", &error);
  g_assert_no_error(error);
  f->cert = g_build_filename(f->dir, "gw1.pem", NULL);
  f->key = g_build_filename(f->dir, "gw1.key", NULL);
  make_cert(f->cert, f->key, "gw1", -60, 90 * 24 * 3600);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
    g_autofree char *p = g_build_filename(f->dir, name, NULL);
    g_unlink(p);
  }
  g_rmdir(f->dir);
  g_free(f->dir);
  g_free(f->cert);
  g_free(f->key);
}

static char *
path_in(Fixture *f, const char *name)
{
  return g_build_filename(f->dir, name, NULL);
}

/* GW_HEAD plus the TLS keys of [Parent]: cert, key and CA are gw1's own
 * files unless `more` overrides them (later keys win). */
static char *
gw_tls(Fixture *f, const char *more)
{
  return g_strdup_printf(GW_HEAD "TLS=yes\nCertificate=%s\nKey=%s\nTrustedCA=%s\n%s", f->cert,
                         f->key, f->cert, more);
}

/* The configuration and its credentials, as tfstd loads them: the loader
 * checks the keys, tfst_tls_creds_load() reads the files. */
static TfstConfig *
load(const char *data, GError **error)
{
  g_autoptr(TfstConfig) c =
      tfst_config_load_from_data(TFST_ROLE_GWPROXY, "test", data, "t.conf", error);

  if (c == NULL || !tfst_tls_creds_load(c, error))
    return NULL;
  return g_steal_pointer(&c);
}

static TfstConfig *
load_ok(const char *data)
{
  g_autoptr(GError) error = NULL;
  TfstConfig *c = load(data, &error);

  g_assert_no_error(error);
  g_assert_nonnull(c);
  return c;
}

static void
assert_error(const char *data, const char *expect)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = load(data, &error);

  g_assert_null(c);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_CONFIG);
  if (strstr(error->message, expect) == NULL)
    g_error("config:\n%s\nexpected '%s' in '%s'", data, expect, error->message);
}

/* ---- keys, before any file is read ---- */

static void
test_keys(void)
{
  static const struct {
    const char *data;
    const char *expect;
  } cases[] = {
      {GW_HEAD "Certificate=/etc/c.pem\n",
       "t.conf:5: [Parent] Certificate=: only applies with TLS=yes"},
      {GW_HEAD "TLS=no\nPeerLabel=relay1\n", "t.conf:6: [Parent] PeerLabel=: only applies with"},
      {GW_HEAD "TLSPriority=NORMAL\n", "[Parent] TLSPriority=: only applies with TLS=yes"},
      {GW_HEAD "TLS=maybe\n", "t.conf:5: [Parent] TLS=: 'maybe' is not a boolean"},
      {GW_HEAD "TLS=yes\n", "[Parent] TLS=: TLS=yes needs Certificate= and Key= (or PSKFile="},
      {GW_HEAD "TLS=yes\nKey=/k.pem\nTrustedCA=/ca.pem\n",
       "t.conf:6: [Parent] Key=: needs Certificate="},
      {GW_HEAD "TLS=yes\nCertificate=/c.pem\nTrustedCA=/ca.pem\n",
       "t.conf:6: [Parent] Certificate=: needs Key="},
      {GW_HEAD "TLS=yes\nCertificate=/c.pem\nKey=/k.pem\n",
       "[Parent] TLS=: TLS=yes needs TrustedCA="},
      {GW_HEAD "TLS=yes\nPSKFile=/psk\nCertificate=/c.pem\n",
       "[Parent] Certificate=: PSKFile= and Certificate= exclude each other"},
      {GW_HEAD "TLS=yes\nCertificate=c.pem\nKey=/k.pem\nTrustedCA=/ca.pem\n",
       "t.conf:6: [Parent] Certificate=: 'c.pem' is not an absolute path"},
      {GW_HEAD "TLS=yes\nPSKFile=/psk\nPeerLabel=relay1 bad/label\n",
       "[Parent] PeerLabel=: 'bad/label' is not a valid label"},
      {GW_HEAD "TLS=yes\nPSKFile=/psk\nTLSMinVersion=1.1\n",
       "[Parent] TLSMinVersion=: '1.1' is not 1.2 or 1.3"},
      {GW_HEAD "TLS=yes\nPSKFile=/psk\nTLSPriority=NORMAL\nTLSMinVersion=1.2\n",
       "t.conf:8: [Parent] TLSMinVersion=: TLSMinVersion= and TLSPriority= exclude each other"},
      {GW_HEAD "HandshakeTimeout=1ms\n", "[Parent] HandshakeTimeout=: '1ms' is too short"},
      {GW_HEAD "TLS=yes\nCertificate=/nonexistent/c.pem\nKey=/k.pem\nTrustedCA=/ca.pem\n",
       "t.conf:6: [Parent] Certificate=: cannot read '/nonexistent/c.pem': No such file or "
       "directory"},
      {GW_HEAD "TLS=yes\nPSKFile=/nonexistent/psk\n",
       "t.conf:6: [Parent] PSKFile=: cannot read '/nonexistent/psk'"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
    assert_error(cases[i].data, cases[i].expect);
}

static void
test_defaults(void)
{
  g_autoptr(TfstConfig) c = load_ok(GW_HEAD "HandshakeTimeout=2s\n");

  g_assert_false(c->parent.tls.enabled);
  g_assert_null(c->parent.tls.creds);
  g_assert_cmpuint(c->parent.handshake_timeout_ms, ==, 2000);
  g_assert_cmpuint(c->parent.tls.min_version, ==, 13);
}

/* The loader keeps the settings and reads no file (tfst-generator loads
 * every configuration at boot and must not open a private key); the
 * credentials come from tfst_tls_creds_load(), whose error names the file
 * and line of the key like the loader's. */
static void
test_settings_only(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = tfst_config_load_from_data(
      TFST_ROLE_GWPROXY, "test",
      GW_HEAD "TLS=yes\nCertificate=/nonexistent/c.pem\nKey=/nonexistent/k.pem\n"
              "TrustedCA=/nonexistent/ca.pem\nPSKFile=\n",
      "t.conf", &error);

  g_assert_no_error(error);
  g_assert_true(c->parent.tls.enabled);
  g_assert_cmpstr(c->parent.tls.key, ==, "/nonexistent/k.pem");
  g_assert_cmpstr(c->parent.tls.trusted_ca, ==, "/nonexistent/ca.pem");
  g_assert_null(c->parent.tls.creds);
  g_assert_false(tfst_tls_creds_load(c, &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_CONFIG);
  g_assert_true(g_str_has_prefix(error->message, "t.conf:6: [Parent] Certificate=: cannot read "
                                                 "'/nonexistent/c.pem'"));
  g_assert_null(c->parent.tls.creds);
}

/* ---- files ---- */

static void
test_good(Fixture *f, gconstpointer data)
{
  g_autofree char *text = gw_tls(f, "PeerLabel=relay1, relay2\nTLSMinVersion=1.2\n");
  g_autoptr(TfstConfig) c = load_ok(text);
  const TfstTlsConf *tls = &c->parent.tls;
  gint64 left;

  g_assert_true(tls->enabled);
  g_assert_nonnull(tls->creds);
  g_assert_cmpstr(tls->certificate, ==, f->cert);
  g_assert_cmpuint(g_strv_length(tls->peer_labels), ==, 2);
  g_assert_cmpstr(tls->peer_labels[1], ==, "relay2");
  g_assert_cmpuint(tls->min_version, ==, 12);
  g_assert_nonnull(strstr(tfst_tls_creds_describe(tls->creds), "subject 'CN=gw1'"));
  left = tfst_tls_creds_expires(tls->creds) - g_get_real_time() / G_USEC_PER_SEC;
  g_assert_cmpint(left, >, 89 * 24 * 3600);
  g_assert_cmpint(left, <=, 90 * 24 * 3600);
}

static void
test_trusted_ca_directory(Fixture *f, gconstpointer data)
{
  g_autofree char *cadir = path_in(f, "cadir");
  g_autofree char *ca = g_build_filename(cadir, "ca.pem", NULL);
  g_autofree char *more = NULL;
  g_autofree char *text = NULL;
  g_autofree char *pem = NULL;
  g_autoptr(TfstConfig) c = NULL;

  g_assert_cmpint(g_mkdir(cadir, 0700), ==, 0);
  g_assert_true(g_file_get_contents(f->cert, &pem, NULL, NULL));
  g_assert_true(g_file_set_contents(ca, pem, -1, NULL));
  more = g_strdup_printf("TrustedCA=%s\n", cadir);
  text = gw_tls(f, more);
  c = load_ok(text);
  g_assert_nonnull(c->parent.tls.creds);
  g_unlink(ca);
  g_rmdir(cadir);
}

static void
test_uri_label(Fixture *f, gconstpointer data)
{
  g_autofree char *cert = path_in(f, "uri.pem");
  g_autofree char *key = path_in(f, "uri.key");
  g_autofree char *text = NULL;
  g_autoptr(TfstConfig) c = NULL;

  /* A label that is no host name: only the URI form can carry it. */
  make_cert(cert, key, "tfst:label:gw_1", -60, 3600);
  text = g_strdup_printf("[Instance]\nLabel=gw_1\n[Parent]\nConnect=127.0.0.1:21002\nTLS=yes\n"
                         "Certificate=%s\nKey=%s\nTrustedCA=%s\n",
                         cert, key, cert);
  c = load_ok(text);
  g_assert_nonnull(c->parent.tls.creds);
}

static void
test_file_errors(Fixture *f, gconstpointer data)
{
  g_autofree char *other_cert = path_in(f, "relay1.pem");
  g_autofree char *other_key = path_in(f, "relay1.key");
  g_autofree char *empty = path_in(f, "empty.pem");
  g_autofree char *more = NULL;
  g_autofree char *text = NULL;

  make_cert(other_cert, other_key, "relay1", -60, 3600);
  g_assert_true(g_file_set_contents(empty, "", 0, NULL));

  /* A certificate for another label. */
  more = g_strdup_printf("Certificate=%s\nKey=%s\n", other_cert, other_key);
  text = gw_tls(f, more);
  assert_error(text, "[Parent] Certificate=: '");
  assert_error(text, "relay1.pem' does not name this instance's label 'gw1' (it needs a "
                     "subjectAltName dNSName \"gw1\" or URI \"tfst:label:gw1\")");
  g_clear_pointer(&more, g_free);
  g_clear_pointer(&text, g_free);

  /* The key of another certificate. */
  more = g_strdup_printf("Key=%s\n", other_key);
  text = gw_tls(f, more);
  assert_error(text, "t.conf:9: [Parent] Key=: cannot load");
  g_clear_pointer(&more, g_free);
  g_clear_pointer(&text, g_free);

  /* A CA file without a certificate. */
  more = g_strdup_printf("TrustedCA=%s\n", empty);
  text = gw_tls(f, more);
  assert_error(text, "[Parent] TrustedCA=: ");
  g_clear_pointer(&more, g_free);
  g_clear_pointer(&text, g_free);

  /* A directory where a file belongs. */
  more = g_strdup_printf("Certificate=%s\n", f->dir);
  text = gw_tls(f, more);
  assert_error(text, "is a directory, not a file");
  g_clear_pointer(&more, g_free);
  g_clear_pointer(&text, g_free);

  /* A priority string GnuTLS refuses. */
  text = gw_tls(f, "TLSPriority=NORMAL:+BOGUS-THING\n");
  assert_error(text, "t.conf:9: [Parent] TLSPriority=: 'NORMAL:+BOGUS-THING' is not a valid "
                     "GnuTLS priority string");
}

static void
test_expiry(Fixture *f, gconstpointer data)
{
  g_autofree char *cert = path_in(f, "old.pem");
  g_autofree char *key = path_in(f, "old.key");
  g_autofree char *more = NULL;
  g_autofree char *text = NULL;
  g_autoptr(TfstConfig) c = NULL;

  /* An expired certificate still loads (the peer refuses it, and the
   * journal says so at start): a renewal may be on its way. */
  make_cert(cert, key, "gw1", -10 * 24 * 3600, -24 * 3600);
  more = g_strdup_printf("Certificate=%s\nKey=%s\n", cert, key);
  text = gw_tls(f, more);
  c = load_ok(text);
  g_assert_cmpint(tfst_tls_creds_expires(c->parent.tls.creds), <,
                  g_get_real_time() / G_USEC_PER_SEC);
}

static void
test_psk(Fixture *f, gconstpointer data)
{
  static const char *const bad[][2] = {
      {"gw1 00112233445566778899aabbccddeeff\n", "line 1: not \"LABEL:HEXKEY\""},
      {"gw1:0011\n", "line 1: the key of 'gw1' must be 16 to 64 bytes"},
      {"# keys\n\ngw1:zz112233445566778899aabbccddeeff\n", "line 3: the key of 'gw1' is not "
                                                           "hexadecimal"},
      {"relay1:00112233445566778899aabbccddeeff\n", "has no key for this instance's label 'gw1'"},
  };
  g_autofree char *psk = path_in(f, "psk");
  g_autofree char *text = g_strdup_printf(GW_HEAD "TLS=yes\nPSKFile=%s\nPeerLabel=relay1\n", psk);

  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_true(g_file_set_contents(psk, bad[i][0], -1, NULL));
    assert_error(text, "t.conf:6: [Parent] PSKFile=: '");
    assert_error(text, bad[i][1]);
  }
  g_assert_true(g_file_set_contents(psk,
                                    "# "
                                    "identity:key\ngw1:00112233445566778899AABBCCDDEEFF\nrelay1:"
                                    "ffeeddccbbaa99887766554433221100\n",
                                    -1, NULL));
  {
    g_autoptr(TfstConfig) c = load_ok(text);
    g_assert_nonnull(c->parent.tls.creds);
    g_assert_cmpstr(tfst_tls_creds_describe(c->parent.tls.creds), ==, "PSK identity 'gw1'");
    g_assert_cmpint(tfst_tls_creds_expires(c->parent.tls.creds), ==, 0);
  }
}

static glong
max_rss_kib(void)
{
  struct rusage ru;

  g_assert_cmpint(getrusage(RUSAGE_SELF, &ru), ==, 0);
  return ru.ru_maxrss;
}

/* Credential files are read by us, bounded, and only when regular: a
 * PSKFile of /dev/zero grew the daemon to 953 MB, a FIFO hung startup
 * (and a reload, with the control plane deaf to SIGTERM). */
static void
test_special_files(Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = path_in(f, "fifo");
  g_autofree char *big = path_in(f, "big.pem");
  g_autofree char *psk_fifo = NULL;
  g_autofree char *psk_zero = NULL;
  g_autofree char *psk_dir = NULL;
  glong rss_before = max_rss_kib();
  g_autofree char *more = NULL;
  g_autofree char *text = NULL;
  g_autofree char *pad = g_strnfill(TFST_FILE_MAX + 1, '#');

  alarm(20); /* a hang fails the test instead of stalling the suite */
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  psk_fifo = g_strdup_printf(GW_HEAD "TLS=yes\nPSKFile=%s\nPeerLabel=relay1\n", fifo);
  assert_error(psk_fifo, "t.conf:6: [Parent] PSKFile=: cannot read '");
  assert_error(psk_fifo, "fifo': is a FIFO, not a regular file");
  psk_zero = g_strdup(GW_HEAD "TLS=yes\nPSKFile=/dev/zero\nPeerLabel=relay1\n");
  assert_error(psk_zero, "t.conf:6: [Parent] PSKFile=: cannot read '/dev/zero': is a character "
                         "device, not a regular file");
  psk_dir = g_strdup_printf(GW_HEAD "TLS=yes\nPSKFile=%s\nPeerLabel=relay1\n", f->dir);
  assert_error(psk_dir, "is a directory, not a file");

  text = gw_tls(f, "Certificate=/dev/zero\n");
  assert_error(text, "t.conf:9: [Parent] Certificate=: cannot read '/dev/zero': is a character "
                     "device");
  g_clear_pointer(&text, g_free);
  more = g_strdup_printf("Key=%s\n", fifo);
  text = gw_tls(f, more);
  assert_error(text, "t.conf:9: [Parent] Key=: cannot read '");
  assert_error(text, "is a FIFO, not a regular file");
  g_clear_pointer(&more, g_free);
  g_clear_pointer(&text, g_free);
  more = g_strdup_printf("TrustedCA=%s\n", fifo);
  text = gw_tls(f, more);
  assert_error(text, "t.conf:9: [Parent] TrustedCA=: cannot read '");
  assert_error(text, "is a FIFO, not a regular file");
  g_clear_pointer(&more, g_free);
  g_clear_pointer(&text, g_free);

  g_assert_true(g_file_set_contents(big, pad, -1, NULL));
  more = g_strdup_printf("Certificate=%s\n", big);
  text = gw_tls(f, more);
  assert_error(text, "big.pem': is larger than 1048576 bytes");
  alarm(0);
  /* nothing was read into memory beyond the cap (the padding itself is 1 MiB) */
  g_assert_cmpint(max_rss_kib() - rss_before, <, 16 * 1024);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/tls-config/keys", test_keys);
  g_test_add_func("/tfst/tls-config/defaults", test_defaults);
  g_test_add_func("/tfst/tls-config/settings-only", test_settings_only);
  g_test_add("/tfst/tls-config/good", Fixture, NULL, fixture_setup, test_good, fixture_teardown);
  g_test_add("/tfst/tls-config/trusted-ca-directory", Fixture, NULL, fixture_setup,
             test_trusted_ca_directory, fixture_teardown);
  g_test_add("/tfst/tls-config/uri-label", Fixture, NULL, fixture_setup, test_uri_label,
             fixture_teardown);
  g_test_add("/tfst/tls-config/file-errors", Fixture, NULL, fixture_setup, test_file_errors,
             fixture_teardown);
  g_test_add("/tfst/tls-config/expiry", Fixture, NULL, fixture_setup, test_expiry,
             fixture_teardown);
  g_test_add("/tfst/tls-config/psk", Fixture, NULL, fixture_setup, test_psk, fixture_teardown);
  g_test_add("/tfst/tls-config/special-files", Fixture, NULL, fixture_setup, test_special_files,
             fixture_teardown);
  return g_test_run();
}
