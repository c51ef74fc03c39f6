/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-parse.h"

#include <arpa/inet.h>
#include <string.h>

typedef struct {
  const char *suffix;
  guint64 factor;
} Unit;

static const Unit time_units[] = {{"ms", 1},          {"msec", 1},         {"s", 1000},
                                  {"sec", 1000},      {"m", 60 * 1000},    {"min", 60 * 1000},
                                  {"h", 3600 * 1000}, {"hr", 3600 * 1000}, {"d", 86400 * 1000}};

static const Unit size_units[] = {
    {"", 1},
    {"K", 1024},
    {"KiB", 1024},
    {"M", 1024 * 1024},
    {"MiB", 1024 * 1024},
    {"G", 1024 * 1024 * 1024},
    {"GiB", 1024 * 1024 * 1024},
};

static gboolean
unit_factor(const Unit *units, gsize n_units, const char *suffix, gsize len, guint64 *out)
{
  for (gsize i = 0; i < n_units; i++) {
    if (strlen(units[i].suffix) == len && g_ascii_strncasecmp(units[i].suffix, suffix, len) == 0) {
      *out = units[i].factor;
      return TRUE;
    }
  }
  return FALSE;
}

/* Reads decimal digits at *p; FALSE when there are none or they overflow. */
static gboolean
read_decimal(const char **p, guint64 *out)
{
  guint64 n = 0;
  const char *s = *p;

  if (!g_ascii_isdigit(*s))
    return FALSE;
  for (; g_ascii_isdigit(*s); s++) {
    if (n > (G_MAXUINT64 - 9) / 10)
      return FALSE;
    n = n * 10 + (guint64)(*s - '0');
  }
  *p = s;
  *out = n;
  return TRUE;
}

gboolean
tfst_parse_bool(const char *text, gboolean *out)
{
  static const char *const yes[] = {"yes", "true", "on", "1", NULL};
  static const char *const no[] = {"no", "false", "off", "0", NULL};

  if (g_strv_contains(yes, text))
    *out = TRUE;
  else if (g_strv_contains(no, text))
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

/* "30" (seconds), "30s", "500ms", "5min", "1h", and sums such as
 * "1min 30s", as systemd accepts them.  No sign, no fractions. */
gboolean
tfst_parse_timespan_ms(const char *text, guint *out_ms)
{
  const char *p = text;
  guint64 total = 0;

  if (text == NULL || *text == '\0')
    return FALSE;
  while (*p != '\0') {
    const char *unit;
    guint64 n, factor;

    if (!read_decimal(&p, &n))
      return FALSE;
    unit = p;
    while (g_ascii_isalpha(*p))
      p++;
    if (p == unit)
      factor = 1000;
    else if (!unit_factor(time_units, G_N_ELEMENTS(time_units), unit, p - unit, &factor))
      return FALSE;
    if (n > G_MAXUINT / factor)
      return FALSE;
    total += n * factor;
    if (total > G_MAXUINT)
      return FALSE;
    while (*p == ' ' || *p == '\t')
      p++;
  }
  *out_ms = (guint)total;
  return TRUE;
}

/* "65536", "64K", "16M", "1G" (binary multiples, "KiB" also accepted). */
gboolean
tfst_parse_size64(const char *text, guint64 *out)
{
  const char *p = text;
  guint64 n, factor;

  if (text == NULL || !read_decimal(&p, &n))
    return FALSE;
  if (!unit_factor(size_units, G_N_ELEMENTS(size_units), p, strlen(p), &factor))
    return FALSE;
  if (n > G_MAXUINT64 / factor)
    return FALSE;
  *out = n * factor;
  return TRUE;
}

gboolean
tfst_parse_size(const char *text, guint32 *out)
{
  guint64 n;

  if (!tfst_parse_size64(text, &n) || n > G_MAXUINT32)
    return FALSE;
  *out = (guint32)n;
  return TRUE;
}

/* Whether e's address has bits set beyond its prefix; if so they are
 * cleared, so that e->addr is the network the administrator meant. */
static gboolean
network_has_host_bits(TfstNetworkEntry *e, gsize len)
{
  for (gsize i = 0; i < len; i++) {
    guint bits = MIN(8, (guint)MAX((gint)e->prefix - (gint)i * 8, 0));
    guint8 mask = bits == 0 ? 0 : (guint8)(0xff << (8 - bits));

    if ((e->addr[i] & ~mask) != 0) {
      for (gsize j = i; j < len; j++)
        e->addr[j] &= j == i ? mask : 0;
      return TRUE;
    }
  }
  return FALSE;
}

/* "10.1.0.0/16", "fd00::/8", or a bare address (a single host). */
gboolean
tfst_parse_network(const char *text, TfstNetworkEntry *out, char **out_reason)
{
  g_autofree char *ip = NULL;
  const char *slash = strchr(text, '/');
  TfstNetworkEntry e = {{0}};
  TfstSockAddr a;
  guint64 prefix;
  gsize len;

  ip = slash != NULL ? g_strndup(text, slash - text) : g_strdup(text);
  if (!tfst_addr_parse_ip(ip, &a)) {
    *out_reason = g_strdup_printf("'%s' is not an IPv4 or IPv6 network (ADDRESS/PREFIX)", text);
    return FALSE;
  }
  e.family = a.sa.sa_family;
  len = e.family == AF_INET ? 4 : 16;
  memcpy(e.addr,
         e.family == AF_INET ? (const void *)&a.in.sin_addr : (const void *)&a.in6.sin6_addr, len);
  prefix = len * 8;
  if (slash != NULL && !g_ascii_string_to_unsigned(slash + 1, 10, 0, len * 8, &prefix, NULL)) {
    *out_reason = g_strdup_printf("'%s': the prefix length must be 0-%u", text, (guint)len * 8);
    return FALSE;
  }
  e.prefix = (guint8)prefix;
  if (network_has_host_bits(&e, len)) {
    char buf[INET6_ADDRSTRLEN];

    inet_ntop(e.family, e.addr, buf, sizeof(buf));
    *out_reason =
        g_strdup_printf("'%s' has host bits set (did you mean %s/%u?)", text, buf, e.prefix);
    return FALSE;
  }
  *out = e;
  return TRUE;
}
