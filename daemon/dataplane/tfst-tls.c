/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TLS on the hops with GnuTLS.  Credentials are built once per
 * configuration load on the control plane and only read afterwards, which
 * GnuTLS allows from any thread; each hop's session lives on the data
 * plane.  See tfst-tls.h for the label binding. */
#include "tfst-tls.h"

#include "tfst-gnutls.h"
#include "tfst-error.h"
#include "tfst-file.h"
#include "tfst-frame.h"

#include <errno.h>
#include <gnutls/socket.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define TLS_RECORD_HANDSHAKE 0x16
#define TLS_RECORD_ALERT     0x15
#define PSK_KEY_MAX          64

struct TfstTlsCreds {
  gatomicrefcount ref;
  gboolean server;
  gboolean psk;
  gnutls_certificate_credentials_t x509;
  gnutls_psk_server_credentials_t psk_server;
  gnutls_psk_client_credentials_t psk_client;
  GHashTable *psk_keys; /* server: identity -> GBytes key */
  gnutls_priority_t priority;
  gnutls_datum_t ticket_key; /* server: session tickets for resumption */
  char **peer_labels;
  char *description;
  char *labels; /* ours, comma separated */
  char *subject;
  char *issuer;
  gint64 expires;
};

struct TfstTls {
  gnutls_session_t session;
  TfstTlsCreds *creds;
  int fd;
  gboolean client;
  gboolean peeked;       /* the peer's first byte was checked */
  gboolean send_pending; /* a record is half sent: GnuTLS wants it finished */
  gboolean ktls;
  GPtrArray *labels; /* what the peer's certificate names; NULL: unchecked */
  char *labels_text;
  char *description;
  char *cipher; /* gnutls_session_get_desc() */
  char *peer_subject;
  char *peer_issuer;
  gint64 peer_expires;
  char *last_error;
};

/* ---- certificates ---- */

/* A label as a certificate may name it: dNSName "relay1" or URI
 * "tfst:label:relay1". */
static const char *
san_label(int type, const char *value)
{
  if (type == GNUTLS_SAN_DNSNAME && tfst_label_is_valid(value))
    return value;
  if (type == GNUTLS_SAN_URI && g_str_has_prefix(value, TFST_TLS_LABEL_URI_PREFIX) &&
      tfst_label_is_valid(value + strlen(TFST_TLS_LABEL_URI_PREFIX)))
    return value + strlen(TFST_TLS_LABEL_URI_PREFIX);
  return NULL;
}

static GPtrArray *
crt_labels(gnutls_x509_crt_t crt)
{
  GPtrArray *labels = g_ptr_array_new_with_free_func(g_free);

  for (unsigned seq = 0;; seq++) {
    char buf[256];
    size_t size = sizeof(buf) - 1;
    int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
    const char *label;

    if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
      continue; /* far longer than any label */
    if (type < 0)
      break;
    buf[MIN(size, sizeof(buf) - 1)] = '\0';
    label = san_label(type, buf);
    if (label != NULL && !g_ptr_array_find_with_equal_func(labels, label, g_str_equal, NULL))
      g_ptr_array_add(labels, g_strdup(label));
  }
  return labels;
}

static char *
format_time(gint64 t)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

  return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");
}

static char *
crt_dn(gnutls_x509_crt_t crt, gboolean issuer)
{
  gnutls_datum_t dn = {NULL, 0};
  int rc =
      issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) : gnutls_x509_crt_get_dn3(crt, &dn, 0);
  char *s;

  if (rc < 0)
    return g_strdup("?");
  s = g_strndup((const char *)dn.data, dn.size);
  gnutls_free(dn.data);
  return s;
}

static char *
crt_describe(gnutls_x509_crt_t crt)
{
  g_autofree char *subject = crt_dn(crt, FALSE);
  g_autofree char *issuer = crt_dn(crt, TRUE);
  g_autofree char *expires = format_time(gnutls_x509_crt_get_expiration_time(crt));

  return g_strdup_printf("subject '%s', issuer '%s', expires %s", subject, issuer, expires);
}

/* The bytes of a file the configuration names, read by us rather than by
 * GnuTLS's *_file() helpers: those open FIFOs and devices and read them
 * without limit.  The datum is NUL-terminated for PEM parsing. */
static gboolean
read_datum(const char *path, gnutls_datum_t *out, GError **error)
{
  g_autoptr(GError) local = NULL;
  gsize len = 0;
  char *text = tfst_file_read(path, TFST_FILE_MAX, &len, &local);

  if (text == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "cannot read '%s': %s", path, local->message);
    return FALSE;
  }
  out->data = (unsigned char *)text;
  out->size = (unsigned int)len;
  return TRUE;
}

/* Private keys and PSKs do not outlive their use in freed memory. */
static void
datum_wipe(gnutls_datum_t *d)
{
  if (d->data != NULL)
    gnutls_memset(d->data, 0, d->size);
  g_clear_pointer(&d->data, g_free);
  d->size = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(gnutls_datum_t, datum_wipe)

static gboolean
set_key_pair(TfstTlsCreds *c, const TfstTlsConf *conf, TfstTlsKey *out_key, GError **error)
{
  g_auto(gnutls_datum_t) cert = {NULL, 0};
  g_auto(gnutls_datum_t) key = {NULL, 0};
  int rc;

  *out_key = TFST_TLS_KEY_CERTIFICATE;
  if (!read_datum(conf->certificate, &cert, error))
    return FALSE;
  *out_key = TFST_TLS_KEY_KEY;
  if (!read_datum(conf->key, &key, error))
    return FALSE;
  rc = gnutls_certificate_set_x509_key_mem2(c->x509, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (rc < 0) {
    *out_key = rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH || rc == GNUTLS_E_PK_INVALID_PRIVKEY
                   ? TFST_TLS_KEY_KEY
                   : TFST_TLS_KEY_CERTIFICATE;
    tfst_gnutls_error(error, rc, "cannot load '%s' with key '%s'", conf->certificate, conf->key);
    return FALSE;
  }
  return TRUE;
}

static gboolean
load_own_certificate(TfstTlsCreds *c, const TfstTlsConf *conf, const char *own_label,
                     TfstTlsKey *out_key, GError **error)
{
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_autoptr(GPtrArray) labels = NULL;
  gnutls_datum_t raw;
  int rc;

  if (!set_key_pair(c, conf, out_key, error))
    return FALSE;
  *out_key = TFST_TLS_KEY_CERTIFICATE;
  if ((rc = gnutls_certificate_get_crt_raw(c->x509, 0, 0, &raw)) < 0 ||
      (rc = gnutls_x509_crt_init(&crt)) < 0 ||
      (rc = gnutls_x509_crt_import(crt, &raw, GNUTLS_X509_FMT_DER)) < 0) {
    tfst_gnutls_error(error, rc, "cannot read back '%s'", conf->certificate);
    return FALSE;
  }
  labels = crt_labels(crt);
  if (!g_ptr_array_find_with_equal_func(labels, own_label, g_str_equal, NULL)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                "'%s' does not name this instance's label '%s' (it needs a subjectAltName "
                "dNSName \"%s\" or URI \"" TFST_TLS_LABEL_URI_PREFIX "%s\")",
                conf->certificate, own_label, own_label, own_label);
    return FALSE;
  }
  c->expires = gnutls_x509_crt_get_expiration_time(crt);
  c->description = crt_describe(crt);
  c->subject = crt_dn(crt, FALSE);
  c->issuer = crt_dn(crt, TRUE);
  g_ptr_array_add(labels, NULL);
  c->labels = g_strjoinv(", ", (char **)labels->pdata);
  return TRUE;
}

/* PEM certificates of one file; how many (0: none, < 0: GnuTLS error). */
static int
add_trust_file(TfstTlsCreds *c, const char *path, gsize max, gsize *inout_total, GError **error)
{
  g_auto(gnutls_datum_t) pem = {NULL, 0};
  g_autoptr(GError) local = NULL;
  gsize len = 0;

  pem.data = (unsigned char *)tfst_file_read(path, max, &len, &local);
  if (pem.data == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "cannot read '%s': %s", path, local->message);
    return GNUTLS_E_FILE_ERROR;
  }
  pem.size = (unsigned int)len;
  *inout_total += len;
  return gnutls_certificate_set_x509_trust_mem(c->x509, &pem, GNUTLS_X509_FMT_PEM);
}

/* Whether a directory entry is a regular file (after symlinks), as
 * GnuTLS's trust_dir took it; others, and dot files, are skipped. */
static gboolean
trust_entry_wanted(const char *dir, const char *name, char **out_path)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  struct stat st;

  if (name[0] == '.' || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
    return FALSE;
  *out_path = g_steal_pointer(&path);
  return TRUE;
}

/* A CA directory (c_rehash style, or a distribution's bundle directory):
 * bounded in entries and bytes, and a file that is not PEM is skipped, as
 * GnuTLS did; a file that cannot be read is an error. */
static int
add_trust_dir(TfstTlsCreds *c, const char *path, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) dir = g_dir_open(path, 0, &local);
  gsize total = 0, entries = 0;
  const char *name;
  int count = 0;

  if (dir == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "cannot read '%s': %s", path, local->message);
    return GNUTLS_E_FILE_ERROR;
  }
  while ((name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *file = NULL;
    int rc;

    if (++entries > TFST_TLS_CA_DIR_MAX_ENTRIES) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "'%s' holds more than %d entries", path,
                  TFST_TLS_CA_DIR_MAX_ENTRIES);
      return GNUTLS_E_FILE_ERROR;
    }
    if (!trust_entry_wanted(path, name, &file))
      continue;
    if (total >= TFST_TLS_CA_DIR_MAX_BYTES) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "'%s' holds more than %d bytes", path,
                  TFST_TLS_CA_DIR_MAX_BYTES);
      return GNUTLS_E_FILE_ERROR;
    }
    rc = add_trust_file(c, file, MIN(TFST_FILE_MAX, TFST_TLS_CA_DIR_MAX_BYTES - total), &total,
                        error);
    if (rc == GNUTLS_E_FILE_ERROR)
      return rc;
    count += MAX(rc, 0);
  }
  return count;
}

static gboolean
load_trust(TfstTlsCreds *c, const char *path, GError **error)
{
  struct stat st;
  gsize total = 0;
  int rc;

  /* stat() does not open: a FIFO does not block here, and is refused by
   * the read. */
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    rc = add_trust_dir(c, path, error);
  else
    rc = add_trust_file(c, path, TFST_FILE_MAX, &total, error);
  if (rc == GNUTLS_E_FILE_ERROR)
    return FALSE;
  if (rc < 0) {
    tfst_gnutls_error(error, rc, "cannot load CA certificates from '%s'", path);
    return FALSE;
  }
  if (rc == 0) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "'%s' holds no CA certificate (PEM)", path);
    return FALSE;
  }
  return TRUE;
}

/* ---- PSK ---- */

/* "identity:hexkey" lines, '#' comments and blank lines ignored. */
static GHashTable *
read_psk_file(const char *path, GError **error)
{
  g_autoptr(GHashTable) keys =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  g_auto(gnutls_datum_t) text = {NULL, 0};
  g_auto(GStrv) lines = NULL;

  if (!read_datum(path, &text, error))
    return NULL;
  lines = g_strsplit((const char *)text.data, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    const char *line = g_strstrip(lines[i]);
    const char *colon = strchr(line, ':');
    g_autofree char *identity = NULL;
    const char *hex;
    gsize hexlen;
    guint8 key[PSK_KEY_MAX];

    if (line[0] == '\0' || line[0] == '#')
      continue;
    identity = colon != NULL ? g_strndup(line, colon - line) : NULL;
    if (identity == NULL || !tfst_label_is_valid(identity)) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                  "'%s' line %u: not \"LABEL:HEXKEY\" with a valid label", path, i + 1);
      return NULL;
    }
    hex = colon + 1;
    hexlen = strlen(hex);
    if (hexlen < 32 || hexlen > 2 * PSK_KEY_MAX || hexlen % 2 != 0) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                  "'%s' line %u: the key of '%s' must be 16 to %d bytes as hexadecimal digits",
                  path, i + 1, identity, PSK_KEY_MAX);
      return NULL;
    }
    for (gsize k = 0; k < hexlen / 2; k++) {
      int hi = g_ascii_xdigit_value(hex[2 * k]), lo = g_ascii_xdigit_value(hex[2 * k + 1]);
      if (hi < 0 || lo < 0) {
        g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                    "'%s' line %u: the key of '%s' is not hexadecimal", path, i + 1, identity);
        return NULL;
      }
      key[k] = (guint8)(hi << 4 | lo);
    }
    g_hash_table_replace(keys, g_steal_pointer(&identity), g_bytes_new(key, hexlen / 2));
  }
  return g_steal_pointer(&keys);
}

static int
psk_server_key_cb(gnutls_session_t session, const char *username, gnutls_datum_t *key)
{
  TfstTls *tls = gnutls_session_get_ptr(session);
  GBytes *b = g_hash_table_lookup(tls->creds->psk_keys, username);
  gsize len;
  const guint8 *data;

  if (b == NULL)
    return -1;
  data = g_bytes_get_data(b, &len);
  key->data = gnutls_malloc(len);
  if (key->data == NULL)
    return -1;
  memcpy(key->data, data, len);
  key->size = len;
  return 0;
}

static gboolean
load_psk(TfstTlsCreds *c, const TfstTlsConf *conf, const char *own_label, GError **error)
{
  g_autoptr(GHashTable) keys = read_psk_file(conf->psk_file, error);
  GBytes *mine;
  gnutls_datum_t d;
  gsize len;
  int rc;

  if (keys == NULL)
    return FALSE;
  if (c->server) {
    if (g_hash_table_size(keys) == 0) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "'%s' holds no key", conf->psk_file);
      return FALSE;
    }
    if ((rc = gnutls_psk_allocate_server_credentials(&c->psk_server)) < 0) {
      tfst_gnutls_error(error, rc, "cannot set up PSK");
      return FALSE;
    }
    gnutls_psk_set_server_credentials_function(c->psk_server, psk_server_key_cb);
    c->psk_keys = g_steal_pointer(&keys);
    c->labels = g_strdup(own_label);
    c->description = g_strdup_printf("PSK, %u identities", g_hash_table_size(c->psk_keys));
    return TRUE;
  }
  mine = g_hash_table_lookup(keys, own_label);
  if (mine == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                "'%s' has no key for this instance's label '%s' (the PSK identity a client "
                "presents is its label)",
                conf->psk_file, own_label);
    return FALSE;
  }
  d.data = (unsigned char *)g_bytes_get_data(mine, &len);
  d.size = len;
  if ((rc = gnutls_psk_allocate_client_credentials(&c->psk_client)) < 0 ||
      (rc = gnutls_psk_set_client_credentials(c->psk_client, own_label, &d, GNUTLS_PSK_KEY_RAW)) <
          0) {
    tfst_gnutls_error(error, rc, "cannot set up PSK");
    return FALSE;
  }
  c->description = g_strdup_printf("PSK identity '%s'", own_label);
  c->labels = g_strdup(own_label);
  return TRUE;
}

/* ---- credentials ---- */

static char *
default_priority(const TfstTlsConf *conf)
{
  return g_strconcat("NORMAL:-VERS-ALL:+VERS-TLS1.3",
                     conf->min_version == 12 ? ":+VERS-TLS1.2" : "",
                     conf->psk_file != NULL ? ":+ECDHE-PSK:+PSK" : "", NULL);
}

static gboolean
load_priority(TfstTlsCreds *c, const TfstTlsConf *conf, GError **error)
{
  g_autofree char *text =
      conf->priority != NULL ? g_strdup(conf->priority) : default_priority(conf);
  const char *err_pos = NULL;
  int rc = gnutls_priority_init(&c->priority, text, &err_pos);

  if (rc < 0) {
    if (rc == GNUTLS_E_INVALID_REQUEST && err_pos != NULL)
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                  "'%s' is not a valid GnuTLS priority string (the error is at '%s')", text,
                  err_pos);
    else
      tfst_gnutls_error(error, rc, "'%s' is not a valid GnuTLS priority string", text);
    c->priority = NULL;
    return FALSE;
  }
  return TRUE;
}

TfstTlsCreds *
tfst_tls_creds_new(const TfstTlsConf *conf, gboolean server, const char *own_label,
                   TfstTlsKey *out_key, GError **error)
{
  g_autoptr(TfstTlsCreds) c = g_new0(TfstTlsCreds, 1);
  TfstTlsKey key = TFST_TLS_KEY_PRIORITY;
  int rc;

  g_return_val_if_fail(conf != NULL && conf->enabled, NULL);
  g_atomic_ref_count_init(&c->ref);
  c->server = server;
  c->psk = conf->psk_file != NULL;
  c->peer_labels = g_strdupv(conf->peer_labels);
  if (!load_priority(c, conf, error)) {
    *out_key = TFST_TLS_KEY_PRIORITY;
    return NULL;
  }
  if (c->psk) {
    if (!load_psk(c, conf, own_label, error)) {
      *out_key = TFST_TLS_KEY_PSK_FILE;
      return NULL;
    }
  } else {
    if ((rc = gnutls_certificate_allocate_credentials(&c->x509)) < 0) {
      tfst_gnutls_error(error, rc, "cannot set up certificates");
      *out_key = TFST_TLS_KEY_CERTIFICATE;
      return NULL;
    }
    if (!load_own_certificate(c, conf, own_label, &key, error)) {
      *out_key = key;
      return NULL;
    }
    if (!load_trust(c, conf->trusted_ca, error)) {
      *out_key = TFST_TLS_KEY_TRUSTED_CA;
      return NULL;
    }
  }
  /* A new key at each load: tickets issued before a reload are not
   * honoured after it, so reconnects see the new certificates. */
  if (server && (rc = gnutls_session_ticket_key_generate(&c->ticket_key)) < 0) {
    tfst_gnutls_error(error, rc, "cannot make a session ticket key");
    *out_key = TFST_TLS_KEY_PRIORITY;
    return NULL;
  }
  return g_steal_pointer(&c);
}

/* The key an error of tfst_tls_creds_new() points at.  The default
 * priority string is ours: point at TLSMinVersion= or TLS= then. */
static const char *
creds_error_key(const TfstConfig *config, const char *group, TfstTlsKey key)
{
  static const char *const key_names[] = {
      [TFST_TLS_KEY_CERTIFICATE] = "Certificate", [TFST_TLS_KEY_KEY] = "Key",
      [TFST_TLS_KEY_TRUSTED_CA] = "TrustedCA",    [TFST_TLS_KEY_PSK_FILE] = "PSKFile",
      [TFST_TLS_KEY_PRIORITY] = "TLSPriority",
  };

  if (key != TFST_TLS_KEY_PRIORITY || tfst_config_origin(config, group, "TLSPriority") != NULL)
    return key_names[key];
  return tfst_config_origin(config, group, "TLSMinVersion") != NULL ? "TLSMinVersion" : "TLS";
}

static gboolean
creds_load_hop(TfstConfig *config, const char *group, TfstHopConf *hop, GError **error)
{
  g_autoptr(GError) local = NULL;
  TfstTlsKey key = TFST_TLS_KEY_PRIORITY;
  TfstTlsCreds *creds;

  if (!hop->tls.enabled)
    return TRUE;
  g_return_val_if_fail(hop->tls.creds == NULL, FALSE);
  creds = tfst_tls_creds_new(&hop->tls, hop->listen, config->label, &key, &local);
  if (creds == NULL) {
    tfst_config_set_error(config, error, group, creds_error_key(config, group, key),
                          local->message);
    return FALSE;
  }
  hop->tls.creds = creds;
  hop->tls.creds_free = (GDestroyNotify)tfst_tls_creds_unref;
  return TRUE;
}

gboolean
tfst_tls_creds_load(TfstConfig *config, GError **error)
{
  return creds_load_hop(config, "Parent", &config->parent, error) &&
         creds_load_hop(config, "Children", &config->children, error);
}

TfstTlsCreds *
tfst_tls_creds_ref(TfstTlsCreds *creds)
{
  g_atomic_ref_count_inc(&creds->ref);
  return creds;
}

void
tfst_tls_creds_unref(TfstTlsCreds *c)
{
  if (c == NULL || !g_atomic_ref_count_dec(&c->ref))
    return;
  g_clear_pointer(&c->x509, gnutls_certificate_free_credentials);
  g_clear_pointer(&c->psk_server, gnutls_psk_free_server_credentials);
  g_clear_pointer(&c->psk_client, gnutls_psk_free_client_credentials);
  g_clear_pointer(&c->psk_keys, g_hash_table_unref);
  g_clear_pointer(&c->priority, gnutls_priority_deinit);
  if (c->ticket_key.data != NULL) {
    gnutls_memset(c->ticket_key.data, 0, c->ticket_key.size);
    gnutls_free(c->ticket_key.data);
  }
  g_strfreev(c->peer_labels);
  g_free(c->description);
  g_free(c->labels);
  g_free(c->subject);
  g_free(c->issuer);
  g_free(c);
}

const char *
tfst_tls_creds_describe(const TfstTlsCreds *creds)
{
  return creds->description != NULL ? creds->description : "?";
}

gint64
tfst_tls_creds_expires(const TfstTlsCreds *creds)
{
  return creds->expires;
}

void
tfst_tls_creds_check_expiry(const TfstTlsCreds *creds, const char *section, const TfstLog *log)
{
  TfstLogFields f = {.message_id = TFST_MSGID_TLS_EXPIRY};
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  gint64 left;
  g_autofree char *when = NULL;

  if (creds == NULL || creds->expires == 0)
    return;
  left = creds->expires - now;
  when = format_time(creds->expires);
  if (left <= 0)
    tfst_log_full(log, LOG_ERR, &f,
                  "TLS certificate of [%s] has expired (%s): peers will refuse it; %s", section,
                  when, creds->description);
  else if (left < TFST_TLS_EXPIRY_WARN_DAYS * 24 * 3600)
    tfst_log_full(log, LOG_WARNING, &f,
                  "TLS certificate of [%s] expires in %" G_GINT64_FORMAT " days (%s): renew it "
                  "and reload; %s",
                  section, left / (24 * 3600), when, creds->description);
}

/* ---- sessions ---- */

void
tfst_tls_free(TfstTls *tls)
{
  if (tls == NULL)
    return;
  g_clear_pointer(&tls->session, gnutls_deinit);
  g_clear_pointer(&tls->creds, tfst_tls_creds_unref);
  g_clear_pointer(&tls->labels, g_ptr_array_unref);
  g_free(tls->labels_text);
  g_free(tls->description);
  g_free(tls->cipher);
  g_free(tls->peer_subject);
  g_free(tls->peer_issuer);
  g_free(tls->last_error);
  g_free(tls);
}

TfstTls *
tfst_tls_new(TfstTlsCreds *creds, gboolean client, int fd, GBytes *resume, GError **error)
{
  TfstTls *tls = g_new0(TfstTls, 1);
  gnutls_session_t s;
  int rc;

  tls->creds = tfst_tls_creds_ref(creds);
  tls->client = client;
  tls->fd = fd;
  rc = gnutls_init(&s,
                   (client ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
  if (rc < 0) {
    tfst_gnutls_error(error, rc, "cannot start a TLS session");
    tfst_tls_free(tls);
    return NULL;
  }
  tls->session = s;
  gnutls_session_set_ptr(s, tls);
  if ((rc = gnutls_priority_set(s, creds->priority)) < 0 ||
      (rc = creds->psk ? gnutls_credentials_set(s, GNUTLS_CRD_PSK,
                                                client ? (void *)creds->psk_client
                                                       : (void *)creds->psk_server)
                       : gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds->x509)) < 0 ||
      (!client && (rc = gnutls_session_ticket_enable_server(s, &creds->ticket_key)) < 0) ||
      (client && resume != NULL &&
       (rc = gnutls_session_set_data(s, g_bytes_get_data(resume, NULL), g_bytes_get_size(resume))) <
           0)) {
    tfst_gnutls_error(error, rc, "cannot set up the TLS session");
    tfst_tls_free(tls);
    return NULL;
  }
  if (!creds->psk) {
    /* Mutual: both sides verify the chain (no host name: the label is
     * checked against the subjectAltName after the handshake). */
    if (!client) {
      gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
      /* Without the list of our CAs in the request a client presents its
       * certificate even from another CA, and the refusal names the
       * reason instead of "no certificate". */
      gnutls_certificate_send_x509_rdn_sequence(s, 1);
    }
    gnutls_session_set_verify_cert(s, NULL, 0);
  }
  /* The hop's own timer bounds the handshake (HandshakeTimeout=). */
  gnutls_handshake_set_timeout(s, 0);
  gnutls_transport_set_int(s, fd);
  return tls;
}

/* A tfst frame starts with the protocol version (1), a TLS record with
 * its content type: looking at the peer's first byte tells a plaintext
 * peer from a TLS one without waiting for GnuTLS's generic error.  That
 * byte is only the first one while GnuTLS has read nothing, so a server
 * (the client speaks first) does not start GnuTLS before it is there,
 * and a client looks only before its first handshake call: that call
 * sends the ClientHello and then reads whatever answer already arrived.
 * On a loaded machine that was the server's first records, and a later
 * look saw an encrypted one (0x17) and called the peer plaintext.
 * DONE: go on with GnuTLS; AGAIN: wait for input; FAILED: *out_why. */
static TfstTlsHandshake
peek_first_byte(TfstTls *tls, char **out_why)
{
  guint8 b;
  ssize_t n;

  if (tls->peeked)
    return TFST_TLS_HS_DONE;
  n = recv(tls->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR) && !tls->client)
    return TFST_TLS_HS_AGAIN;
  tls->peeked = TRUE;
  if (n < 0)
    return TFST_TLS_HS_DONE; /* a client's turn, or an error GnuTLS will report */
  if (n == 0) {
    *out_why = g_strdup("connection closed by the peer before the TLS handshake");
    return TFST_TLS_HS_FAILED;
  }
  if (b == TLS_RECORD_HANDSHAKE || b == TLS_RECORD_ALERT)
    return TFST_TLS_HS_DONE;
  *out_why = g_strdup_printf("the peer speaks plaintext, not TLS (first byte 0x%02x%s); "
                             "with TLS=yes there is no plaintext fallback",
                             b, b == TFST_PROTO_VERSION ? ", a tfst frame" : "");
  return TFST_TLS_HS_FAILED;
}

static char *
alert_text(TfstTls *tls)
{
  gnutls_alert_description_t a = gnutls_alert_get(tls->session);
  gboolean about_us = a == GNUTLS_A_BAD_CERTIFICATE || a == GNUTLS_A_UNKNOWN_CA ||
                      a == GNUTLS_A_CERTIFICATE_EXPIRED || a == GNUTLS_A_UNSUPPORTED_CERTIFICATE ||
                      a == GNUTLS_A_CERTIFICATE_REQUIRED || a == GNUTLS_A_ACCESS_DENIED ||
                      a == GNUTLS_A_CERTIFICATE_REVOKED || a == GNUTLS_A_CERTIFICATE_UNKNOWN;
  gboolean psk_refused =
      tls->creds->psk && (a == GNUTLS_A_ILLEGAL_PARAMETER || a == GNUTLS_A_DECRYPT_ERROR ||
                          a == GNUTLS_A_UNKNOWN_PSK_IDENTITY);

  return g_strdup_printf("TLS alert from the peer: '%s'%s", gnutls_alert_get_name(a),
                         psk_refused ? " (it does not accept our PSK: the keys of PSKFile= differ)"
                         : about_us  ? " (it does not accept our certificate)"
                                     : "");
}

static char *
handshake_failure(TfstTls *tls, int rc)
{
  gnutls_session_t s = tls->session;

  if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
    gnutls_datum_t out = {NULL, 0};
    unsigned status = gnutls_session_get_verify_cert_status(s);
    g_autofree char *text = NULL;

    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
      text = g_strndup((const char *)out.data, out.size);
      gnutls_free(out.data);
    }
    return g_strdup_printf("TLS: the peer's certificate is refused: %s%s",
                           text != NULL ? text : gnutls_strerror(rc),
                           status & GNUTLS_CERT_EXPIRED ? " (expired)" : "");
  }
  if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
    return alert_text(tls);
  /* What a client that found nothing to look at before its ClientHello
   * learns from a plaintext peer. */
  if ((rc == GNUTLS_E_UNEXPECTED_PACKET || rc == GNUTLS_E_UNSUPPORTED_VERSION_PACKET ||
       rc == GNUTLS_E_UNEXPECTED_PACKET_LENGTH) &&
      gnutls_handshake_get_last_in(s) == GNUTLS_HANDSHAKE_ANY)
    return g_strdup_printf("the peer speaks plaintext, not TLS (its first record is not TLS: "
                           "%s); with TLS=yes there is no plaintext fallback",
                           gnutls_strerror(rc));
  if (tls->creds->psk &&
      (rc == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER || rc == GNUTLS_E_DECRYPTION_FAILED ||
       rc == GNUTLS_E_ILLEGAL_PARAMETER || rc == GNUTLS_E_INSUFFICIENT_CREDENTIALS))
    return g_strdup_printf("TLS: PSK refused (%s): the peer's identity has no key in PSKFile= or "
                           "its key differs from ours",
                           gnutls_strerror(rc));
  if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND || rc == GNUTLS_E_CERTIFICATE_REQUIRED)
    return g_strdup("TLS: the peer sent no certificate (mutual authentication is required)");
  if (rc == GNUTLS_E_UNSUPPORTED_VERSION_PACKET || rc == GNUTLS_E_NO_CIPHER_SUITES ||
      rc == GNUTLS_E_INSUFFICIENT_CREDENTIALS || rc == GNUTLS_E_NO_PRIORITIES_WERE_SET ||
      rc == GNUTLS_E_UNKNOWN_CIPHER_SUITE)
    return g_strdup_printf("TLS: no protocol version or cipher in common with the peer (%s); "
                           "see TLSMinVersion= and TLSPriority=",
                           gnutls_strerror(rc));
  return g_strdup_printf("TLS handshake failed: %s", gnutls_strerror(rc));
}

static gboolean
label_accepted(const TfstTls *tls, const char *label)
{
  return tls->creds->peer_labels == NULL ||
         g_strv_contains((const char *const *)tls->creds->peer_labels, label);
}

/* After the handshake: which labels the peer may announce. */
static gboolean
check_peer(TfstTls *tls, char **out_why)
{
  gnutls_session_t s = tls->session;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *accepted = NULL;
  const gnutls_datum_t *certs;
  unsigned n = 0;
  gboolean any = FALSE;

  tls->labels = g_ptr_array_new_with_free_func(g_free);
  if (tls->creds->psk) {
    const char *id = tls->client ? NULL : gnutls_psk_server_get_username(s);
    if (id != NULL)
      g_ptr_array_add(tls->labels, g_strdup(id));
    else if (tls->client && tls->creds->peer_labels != NULL)
      for (char **l = tls->creds->peer_labels; *l != NULL; l++)
        g_ptr_array_add(tls->labels, g_strdup(*l));
    else
      g_clear_pointer(&tls->labels, g_ptr_array_unref); /* a PSK server is any holder of our key */
    peer = g_strdup(tls->client ? "PSK" : "PSK identity");
  } else {
    certs = gnutls_certificate_get_peers(s, &n);
    if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0 ||
        gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
      *out_why = g_strdup("TLS: the peer sent no usable certificate");
      return FALSE;
    }
    g_clear_pointer(&tls->labels, g_ptr_array_unref);
    tls->labels = crt_labels(crt);
    peer = crt_describe(crt);
    tls->peer_subject = crt_dn(crt, FALSE);
    tls->peer_issuer = crt_dn(crt, TRUE);
    tls->peer_expires = gnutls_x509_crt_get_expiration_time(crt);
  }
  if (tls->labels != NULL) {
    g_ptr_array_add(tls->labels, NULL);
    tls->labels_text = g_strjoinv(", ", (char **)tls->labels->pdata);
    g_ptr_array_remove_index(tls->labels, tls->labels->len - 1);
    for (guint i = 0; i < tls->labels->len; i++)
      any |= label_accepted(tls, g_ptr_array_index(tls->labels, i));
  } else {
    tls->labels_text = g_strdup("(any)");
    any = TRUE;
  }
  accepted = tls->creds->peer_labels != NULL ? g_strjoinv(" ", tls->creds->peer_labels) : NULL;
  if (tls->labels != NULL && tls->labels->len == 0) {
    *out_why =
        g_strdup_printf("TLS: the peer's certificate (%s) names no tfst label: it needs a "
                        "subjectAltName dNSName LABEL or URI " TFST_TLS_LABEL_URI_PREFIX "LABEL",
                        peer);
    return FALSE;
  }
  if (!any) {
    *out_why = g_strdup_printf("TLS: the peer's certificate names label %s, not one PeerLabel= "
                               "accepts (%s); %s",
                               tls->labels_text, accepted, peer);
    return FALSE;
  }
  tls->ktls = gnutls_transport_is_ktls_enabled(s) != 0;
  {
    char *desc = gnutls_session_get_desc(s);
    tls->cipher = g_strdup(desc != NULL ? desc : "?");
    gnutls_free(desc);
  }
  tls->description =
      g_strdup_printf("%s, peer label %s, %s, %s, kernel TLS %s", tls->cipher, tls->labels_text,
                      peer, gnutls_session_is_resumed(s) ? "resumed" : "full handshake",
                      tls->ktls ? "in use" : "not in use");
  return TRUE;
}

TfstTlsHandshake
tfst_tls_handshake(TfstTls *tls, guint32 *out_events, char **out_why)
{
  for (;;) {
    int rc;

    TfstTlsHandshake first = peek_first_byte(tls, out_why);

    if (first == TFST_TLS_HS_AGAIN)
      *out_events = EPOLLIN;
    if (first != TFST_TLS_HS_DONE)
      return first;
    rc = gnutls_handshake(tls->session);
    if (rc == 0) {
      if (check_peer(tls, out_why))
        return TFST_TLS_HS_DONE;
      tfst_tls_deny(tls);
      return TFST_TLS_HS_FAILED;
    }
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
      *out_events = gnutls_record_get_direction(tls->session) ? EPOLLOUT : EPOLLIN;
      return TFST_TLS_HS_AGAIN;
    }
    if (gnutls_error_is_fatal(rc)) {
      *out_why = handshake_failure(tls, rc);
      /* Best effort, so the peer learns why rather than seeing a reset. */
      if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED)
        (void)gnutls_alert_send_appropriate(tls->session, rc);
      return TFST_TLS_HS_FAILED;
    }
    /* a warning alert: carry on */
  }
}

void
tfst_tls_deny(TfstTls *tls)
{
  (void)gnutls_alert_send(tls->session, GNUTLS_AL_FATAL, GNUTLS_A_ACCESS_DENIED);
}

static void
set_last_error(TfstTls *tls, const char *text)
{
  g_free(tls->last_error);
  tls->last_error = g_strdup(text);
}

gssize
tfst_tls_send(TfstTls *tls, const guint8 *data, gsize len)
{
  /* After GNUTLS_E_AGAIN the record is already encrypted inside GnuTLS:
   * NULL/0 finishes it and returns how many of our bytes it held. */
  ssize_t n = tls->send_pending ? gnutls_record_send(tls->session, NULL, 0)
                                : gnutls_record_send(tls->session, data, len);

  if (n >= 0) {
    tls->send_pending = FALSE;
    return n;
  }
  if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
    tls->send_pending = TRUE;
    return 0;
  }
  set_last_error(tls, gnutls_strerror((int)n));
  return n == GNUTLS_E_PUSH_ERROR ? -EPIPE : -EPROTO;
}

gssize
tfst_tls_recv(TfstTls *tls, guint8 *buf, gsize len)
{
  ssize_t n = gnutls_record_recv(tls->session, buf, len);

  if (n >= 0)
    return n;
  if (n == GNUTLS_E_AGAIN)
    return -EAGAIN;
  if (n == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)n))
    return -EINTR;
  if (n == GNUTLS_E_PREMATURE_TERMINATION) {
    set_last_error(tls, "connection closed by peer (without TLS close_notify)");
    return -ECONNRESET;
  }
  if (n == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    /* In TLS 1.3 a client's handshake ends before the server has judged
     * its certificate: a refusal arrives here. */
    g_autofree char *why = alert_text(tls);
    set_last_error(tls, why);
    return -EACCES;
  }
  set_last_error(tls, gnutls_strerror((int)n));
  return n == GNUTLS_E_PULL_ERROR ? -ECONNRESET : -EPROTO;
}

gboolean
tfst_tls_pending(TfstTls *tls)
{
  return gnutls_record_check_pending(tls->session) > 0;
}

const char *
tfst_tls_last_error(const TfstTls *tls)
{
  return tls->last_error != NULL ? tls->last_error : "TLS error";
}

gboolean
tfst_tls_label_ok(const TfstTls *tls, const char *label)
{
  if (!label_accepted(tls, label))
    return FALSE;
  return tls->labels == NULL ||
         g_ptr_array_find_with_equal_func(tls->labels, label, g_str_equal, NULL);
}

const char *
tfst_tls_peer_labels(const TfstTls *tls)
{
  return tls->labels_text != NULL ? tls->labels_text : "";
}

const char *
tfst_tls_describe(const TfstTls *tls)
{
  return tls->description != NULL ? tls->description : "TLS handshake not completed";
}

gboolean
tfst_tls_ktls(const TfstTls *tls)
{
  return tls->ktls;
}

GBytes *
tfst_tls_resume_data(TfstTls *tls)
{
  gnutls_datum_t d = {NULL, 0};
  GBytes *b;

  if (!tls->client || !(gnutls_session_get_flags(tls->session) & GNUTLS_SFLAGS_SESSION_TICKET) ||
      gnutls_session_get_data2(tls->session, &d) < 0)
    return NULL;
  b = g_bytes_new(d.data, d.size);
  gnutls_free(d.data);
  return b;
}

TfstTlsCreds *
tfst_tls_creds(const TfstTls *tls)
{
  return tls->creds;
}

void
tfst_tls_creds_info(const TfstTlsCreds *creds, const char **out_labels, const char **out_subject,
                    const char **out_issuer, gint64 *out_expires)
{
  *out_labels = creds->labels != NULL ? creds->labels : "";
  *out_subject = creds->subject != NULL ? creds->subject : "";
  *out_issuer = creds->issuer != NULL ? creds->issuer : "";
  *out_expires = creds->expires;
}

void
tfst_tls_peer_info(const TfstTls *tls, const char **out_cipher, const char **out_subject,
                   const char **out_issuer, gint64 *out_expires)
{
  *out_cipher = tls->cipher != NULL ? tls->cipher : "";
  *out_subject = tls->peer_subject != NULL ? tls->peer_subject : "";
  *out_issuer = tls->peer_issuer != NULL ? tls->peer_issuer : "";
  *out_expires = tls->peer_expires;
}
