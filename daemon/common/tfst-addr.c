/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-addr.h"
#include "tfst-error.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

gboolean
tfst_addr_parse_ip(const char *text, TfstSockAddr *out)
{
  TfstSockAddr a = {0};

  if (inet_pton(AF_INET, text, &a.in.sin_addr) == 1) {
    a.in.sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, text, &a.in6.sin6_addr) == 1) {
    a.in6.sin6_family = AF_INET6;
  } else {
    return FALSE;
  }
  *out = a;
  return TRUE;
}

/* Accepts "1.2.3.4:80", "[::1]:80", and with !port_required also "1.2.3.4",
 * "::1", "[::1]" (port 0 meaning "from the port rule"). */
/* "[V6]:PORT", "[V6]", "V4:PORT", "V4" or a bare V6 (more than one ':')
 * into the host and the port text (NULL: none given). */
static gboolean
split_host_port(const char *text, char **out_host, const char **out_port, GError **error)
{
  const char *colon;

  *out_port = NULL;
  if (text[0] == '[') {
    const char *end = strchr(text, ']');

    if (end == NULL) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_ADDRESS, "'%s': missing ']'", text);
      return FALSE;
    }
    if (end[1] != ':' && end[1] != '\0') {
      g_set_error(error, TFST_ERROR, TFST_ERROR_ADDRESS, "'%s': junk after ']'", text);
      return FALSE;
    }
    *out_host = g_strndup(text + 1, end - text - 1);
    if (end[1] == ':')
      *out_port = end + 2;
  } else if ((colon = strrchr(text, ':')) != NULL && strchr(text, ':') == colon) {
    *out_host = g_strndup(text, colon - text);
    *out_port = colon + 1;
  } else {
    *out_host = g_strdup(text);
  }
  return TRUE;
}

static gboolean
parse_port(const char *text, const char *port_str, TfstSockAddr *a, GError **error)
{
  char *end = NULL;
  unsigned long p;

  errno = 0;
  p = strtoul(port_str, &end, 10);
  if (*port_str == '\0' || *end != '\0' || errno != 0 || p == 0 || p > 65535) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_ADDRESS, "'%s': port must be 1-65535", text);
    return FALSE;
  }
  tfst_addr_set_port(a, (guint16)p);
  return TRUE;
}

gboolean
tfst_addr_parse(const char *text, gboolean port_required, TfstSockAddr *out, GError **error)
{
  g_autofree char *host = NULL;
  const char *port_str = NULL;
  TfstSockAddr a;

  if (text == NULL || *text == '\0') {
    g_set_error(error, TFST_ERROR, TFST_ERROR_ADDRESS, "empty address");
    return FALSE;
  }
  if (!split_host_port(text, &host, &port_str, error))
    return FALSE;
  if (!tfst_addr_parse_ip(host, &a)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_ADDRESS,
                "'%s': not a numeric IPv4 or IPv6 address (host names are not resolved)", host);
    return FALSE;
  }
  if (port_str != NULL && !parse_port(text, port_str, &a, error))
    return FALSE;
  if (port_str == NULL && port_required) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_ADDRESS, "'%s': a port is required (ADDRESS:PORT)",
                text);
    return FALSE;
  }
  *out = a;
  return TRUE;
}

const char *
tfst_addr_format_ip(const TfstSockAddr *a, char buf[INET6_ADDRSTRLEN])
{
  buf[0] = '\0';
  if (a->sa.sa_family == AF_INET)
    inet_ntop(AF_INET, &a->in.sin_addr, buf, INET6_ADDRSTRLEN);
  else if (a->sa.sa_family == AF_INET6)
    inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, INET6_ADDRSTRLEN);
  return buf;
}

const char *
tfst_addr_format(const TfstSockAddr *a, char buf[TFST_ADDR_STRLEN])
{
  char ip[INET6_ADDRSTRLEN];

  if (a->sa.sa_family == AF_INET) {
    g_snprintf(buf, TFST_ADDR_STRLEN, "%s:%u", tfst_addr_format_ip(a, ip), ntohs(a->in.sin_port));
  } else if (a->sa.sa_family == AF_INET6) {
    g_snprintf(buf, TFST_ADDR_STRLEN, "[%s]:%u", tfst_addr_format_ip(a, ip),
               ntohs(a->in6.sin6_port));
  } else {
    g_strlcpy(buf, "-", TFST_ADDR_STRLEN);
  }
  return buf;
}

socklen_t
tfst_addr_len(const TfstSockAddr *a)
{
  return a->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

guint16
tfst_addr_port(const TfstSockAddr *a)
{
  if (a->sa.sa_family == AF_INET)
    return ntohs(a->in.sin_port);
  if (a->sa.sa_family == AF_INET6)
    return ntohs(a->in6.sin6_port);
  return 0;
}

void
tfst_addr_set_port(TfstSockAddr *a, guint16 port)
{
  if (a->sa.sa_family == AF_INET)
    a->in.sin_port = htons(port);
  else if (a->sa.sa_family == AF_INET6)
    a->in6.sin6_port = htons(port);
}

gboolean
tfst_addr_equal(const TfstSockAddr *a, const TfstSockAddr *b, gboolean with_port)
{
  if (a->sa.sa_family != b->sa.sa_family)
    return FALSE;
  if (with_port && tfst_addr_port(a) != tfst_addr_port(b))
    return FALSE;
  if (a->sa.sa_family == AF_INET)
    return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
  if (a->sa.sa_family == AF_INET6)
    return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
  return FALSE;
}

gboolean
tfst_addr_in_network(const TfstSockAddr *a, guint8 family, const guint8 *net, guint8 prefix)
{
  const guint8 *ip;
  guint full, rest;

  if (a->sa.sa_family != family)
    return FALSE;
  ip = family == AF_INET ? (const guint8 *)&a->in.sin_addr : (const guint8 *)&a->in6.sin6_addr;
  full = prefix / 8;
  rest = prefix % 8;
  if (memcmp(ip, net, full) != 0)
    return FALSE;
  if (rest == 0)
    return TRUE;
  return ((ip[full] ^ net[full]) & (0xff << (8 - rest))) == 0;
}
