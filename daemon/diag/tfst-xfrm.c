/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SPI-conflict rules over plain SA lists (see tfst-xfrm.h). */
#include "tfst-xfrm.h"
#include "tfst-error.h"

#include <arpa/inet.h>
#include <string.h>

const char *
tfst_xfrm_conflict_to_string(TfstXfrmConflict kind)
{
  switch (kind) {
    case TFST_XFRM_CONFLICT_SAME_DESTINATION:
      return "same-destination";
    case TFST_XFRM_CONFLICT_OTHER_TUNNEL:
      return "other-tunnel";
    case TFST_XFRM_CONFLICT_NONE:
    default:
      return NULL;
  }
}

const char *
tfst_xfrm_proto_to_string(guint8 proto, char buf[4])
{
  switch (proto) {
    case IPPROTO_ESP:
      return "esp";
    case IPPROTO_AH:
      return "ah";
    case IPPROTO_COMP:
      return "comp";
    case IPPROTO_ROUTING:
      return "route2";
    case IPPROTO_DSTOPTS:
      return "hao";
    default:
      g_snprintf(buf, 4, "%u", proto);
      return buf;
  }
}

gboolean
tfst_xfrm_proto_from_string(const char *name, guint8 *ret_proto, GError **error)
{
  static const struct {
    const char *name;
    guint8 proto;
  } protos[] = {{"esp", IPPROTO_ESP}, {"ah", IPPROTO_AH}, {"comp", IPPROTO_COMP}};

  for (guint i = 0; i < G_N_ELEMENTS(protos); i++) {
    if (g_strcmp0(name, protos[i].name) == 0) {
      *ret_proto = protos[i].proto;
      return TRUE;
    }
  }
  {
    g_autofree char *shown = tfst_error_quote_arg(name);

    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "protocol '%s' is not one of esp, ah, comp", shown);
  }
  return FALSE;
}

gboolean
tfst_xfrm_canonical_address(const char *text, char ret[INET6_ADDRSTRLEN], GError **error)
{
  struct in6_addr a6;
  struct in_addr a4;

  if (inet_pton(AF_INET, text, &a4) == 1) {
    inet_ntop(AF_INET, &a4, ret, INET6_ADDRSTRLEN);
    return TRUE;
  }
  if (inet_pton(AF_INET6, text, &a6) == 1) {
    inet_ntop(AF_INET6, &a6, ret, INET6_ADDRSTRLEN);
    return TRUE;
  }
  {
    g_autofree char *shown = tfst_error_quote_arg(text);

    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "destination '%s' is not a numeric IPv4 or IPv6 address", shown);
  }
  return FALSE;
}

gboolean
tfst_xfrm_spi_valid(guint32 spi, GError **error)
{
  if (spi == 0 || spi > 255)
    return TRUE;
  g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS, "SPI %u is reserved (1-255, RFC 4303)",
              spi);
  return FALSE;
}

TfstXfrmConflict
tfst_xfrm_classify(const TfstXfrmSa *sa, guint32 spi, const char *destination, guint8 proto)
{
  if (spi == 0 || sa->spi != spi)
    return TFST_XFRM_CONFLICT_NONE;
  if (sa->proto == proto && strcmp(sa->destination, destination) == 0)
    return TFST_XFRM_CONFLICT_SAME_DESTINATION;
  return TFST_XFRM_CONFLICT_OTHER_TUNNEL;
}

TfstXfrmConflict
tfst_xfrm_classify_pair(const TfstXfrmSa *a, const TfstXfrmSa *b)
{
  return tfst_xfrm_classify(a, b->spi, b->destination, b->proto);
}

static gboolean
same_sa(const TfstXfrmSa *a, const TfstXfrmSa *b)
{
  return a->spi == b->spi && a->proto == b->proto && strcmp(a->source, b->source) == 0 &&
         strcmp(a->destination, b->destination) == 0;
}

GArray *
tfst_xfrm_conflicts_of(const GArray *sas, const TfstXfrmSa *sa, TfstXfrmConflict *ret_kind)
{
  GArray *out = g_array_new(FALSE, FALSE, sizeof(TfstXfrmSa));
  TfstXfrmConflict worst = TFST_XFRM_CONFLICT_NONE;
  gboolean self_seen = FALSE;

  for (guint i = 0; i < sas->len; i++) {
    const TfstXfrmSa *other = &g_array_index(sas, TfstXfrmSa, i);
    TfstXfrmConflict kind;

    if (!self_seen && same_sa(other, sa)) {
      self_seen = TRUE;
      continue;
    }
    kind = tfst_xfrm_classify_pair(other, sa);
    if (kind == TFST_XFRM_CONFLICT_NONE)
      continue;
    g_array_append_val(out, *other);
    if (worst != TFST_XFRM_CONFLICT_SAME_DESTINATION)
      worst = kind;
  }
  if (ret_kind != NULL)
    *ret_kind = worst;
  return out;
}

void
tfst_xfrm_conflict_group_free(TfstXfrmConflictGroup *group)
{
  g_clear_pointer(&group->sas, g_array_unref);
  g_free(group);
}

static TfstXfrmConflictGroup *
group_new(guint32 spi, TfstXfrmConflict kind)
{
  TfstXfrmConflictGroup *group = g_new0(TfstXfrmConflictGroup, 1);

  group->spi = spi;
  group->kind = kind;
  group->sas = g_array_new(FALSE, FALSE, sizeof(TfstXfrmSa));
  return group;
}

static gint
compare_spi(gconstpointer a, gconstpointer b)
{
  const TfstXfrmSa *x = a, *y = b;

  return x->spi < y->spi ? -1 : x->spi > y->spi;
}

/* The groups of one SPI: sas[first, end) all carry it. */
static void
add_spi_groups(GPtrArray *groups, const TfstXfrmSa *sas, guint first, guint end)
{
  g_autoptr(TfstXfrmConflictGroup) tunnels = group_new(sas[first].spi, 0);
  gboolean several_tunnels = FALSE;
  g_autofree gboolean *grouped = g_new0(gboolean, end - first);

  for (guint i = first; i < end; i++) {
    g_autoptr(TfstXfrmConflictGroup) same = NULL;

    g_array_append_val(tunnels->sas, sas[i]);
    if (tfst_xfrm_classify_pair(&sas[first], &sas[i]) != TFST_XFRM_CONFLICT_SAME_DESTINATION)
      several_tunnels = TRUE;
    if (grouped[i - first])
      continue;
    for (guint j = i + 1; j < end; j++) {
      if (tfst_xfrm_classify_pair(&sas[i], &sas[j]) != TFST_XFRM_CONFLICT_SAME_DESTINATION)
        continue;
      if (same == NULL) {
        same = group_new(sas[i].spi, TFST_XFRM_CONFLICT_SAME_DESTINATION);
        g_array_append_val(same->sas, sas[i]);
      }
      g_array_append_val(same->sas, sas[j]);
      grouped[j - first] = TRUE;
    }
    if (same != NULL)
      g_ptr_array_add(groups, g_steal_pointer(&same));
  }
  if (several_tunnels) {
    tunnels->kind = TFST_XFRM_CONFLICT_OTHER_TUNNEL;
    g_ptr_array_add(groups, g_steal_pointer(&tunnels));
  }
}

GPtrArray *
tfst_xfrm_find_conflicts(const GArray *sas)
{
  GPtrArray *groups = g_ptr_array_new_with_free_func((GDestroyNotify)tfst_xfrm_conflict_group_free);
  g_autoptr(GArray) sorted = g_array_sized_new(FALSE, FALSE, sizeof(TfstXfrmSa), sas->len);
  const TfstXfrmSa *v;
  guint first = 0;

  g_array_append_vals(sorted, sas->data, sas->len);
  /* Stable, so each group lists its SAs in the kernel's order. */
  g_array_sort(sorted, compare_spi);
  v = (const TfstXfrmSa *)(gpointer)sorted->data;
  for (guint i = 1; i <= sorted->len; i++) {
    if (i < sorted->len && v[i].spi == v[first].spi)
      continue;
    if (v[first].spi != 0 && i - first > 1)
      add_spi_groups(groups, v, first, i);
    first = i;
  }
  return groups;
}

GVariant *
tfst_xfrm_parse_stat(const char *text, GError **error)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{st}"));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

  for (guint n = 0; lines[n] != NULL; n++) {
    g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[n]), " \t", -1);
    const char *name = f[0], *value = NULL;
    guint64 count = 0;

    if (name == NULL || *name == '\0')
      continue;
    for (guint i = 1; f[i] != NULL; i++) {
      if (*f[i] == '\0')
        continue;
      if (value != NULL) {
        value = NULL;
        break;
      }
      value = f[i];
    }
    if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &count, NULL)) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED,
                  "line %u of the xfrm statistics is not 'NAME COUNT': '%s'", n + 1, lines[n]);
      return NULL;
    }
    g_variant_builder_add(&b, "{st}", name, count);
  }
  return g_variant_ref_sink(g_variant_builder_end(&b));
}
