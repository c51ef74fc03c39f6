/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The STATUS= sentence: what `systemctl status` shows an administrator
 * first, so it says which hops are down and why ("2 of 3 children up,
 * parent down (connection refused), degraded, 4 sessions; listening on
 * port 4711").  Journal text: not translated. */
#include "tfst-engine-private.h"

#include <string.h>

/* Hops known in one direction: those up, all of them, and the error of
 * the first one that is down (connectors first: they say why at once). */
typedef struct {
  guint up;
  guint total;
  const char *down_error;
} TfstStatusCount;

static void
note_down(TfstStatusCount *n, const char *error)
{
  if (n->down_error == NULL && error != NULL && *error != '\0')
    n->down_error = error;
}

static void
count_connectors(TfstEngine *e, TfstHopDirection dir, TfstStatusCount *n)
{
  for (guint i = 0; i < e->connectors->len; i++) {
    const TfstConnector *c = g_ptr_array_index(e->connectors, i);

    if (c->direction != dir)
      continue;
    n->total++;
    if (c->hop != NULL && c->hop->up)
      n->up++;
    else
      note_down(n, c->last_error);
  }
}

/* Peers that connected to us: remembered ones count as expected, so a
 * child that went away makes the instance degraded.  Parents that connect
 * to us count up to MaxParents=: more than that are never up at once. */
static void
count_accepted(TfstEngine *e, TfstHopDirection dir, TfstStatusCount *n)
{
  GHashTableIter it;
  gpointer value;
  guint up = 0, known = 0;

  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    const TfstHop *hop = l->data;
    if (hop->connector == NULL && hop->up && hop->direction == dir)
      up++;
  }
  g_hash_table_iter_init(&it, e->peers);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    const TfstPeerRecord *r = value;
    if (r->direction != dir)
      continue;
    known++;
    if (!r->up)
      note_down(n, r->last_error);
  }
  if (dir == TFST_HOP_TO_PARENT)
    known = MIN(known, MAX(e->config->max_parents, 1u));
  /* Records are capped too (TFST_PEER_RECORDS_MAX): never "5 of 3". */
  n->up += up;
  n->total += MAX(known, up);
}

static TfstStatusCount
status_count(TfstEngine *e, TfstHopDirection dir)
{
  TfstStatusCount n = {0};

  count_connectors(e, dir, &n);
  count_accepted(e, dir, &n);
  return n;
}

/* "ECONNREFUSED: cannot connect: Connection refused" → "connection
 * refused": the words, as a sentence goes on; the journal and Hops have
 * the errno name. */
static void
append_error(GString *s, const char *error)
{
  const char *colon = strstr(error, ": ");
  gsize start = s->len;

  if (error[0] == 'E' && colon != NULL &&
      strspn(error, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == (gsize)(colon - error))
    error = colon + 2;
  if (g_str_has_prefix(error, "cannot connect: "))
    error += strlen("cannot connect: ");
  g_string_append(s, error);
  if (g_ascii_isupper(s->str[start]) && g_ascii_islower(s->str[start + 1]))
    s->str[start] = g_ascii_tolower(s->str[start]);
}

static void
append_children(GString *s, const TfstStatusCount *n)
{
  if (n->total == 0) {
    g_string_append(s, "no children");
    return;
  }
  g_string_append_printf(s, "%u of %u %s up", n->up, n->total,
                         n->total == 1 ? "child" : "children");
}

/* One parent: "parent up (ep)" or "parent down (why)"; several: how many
 * are up and which is active. */
static void
append_parents(TfstEngine *e, GString *s, TfstStatusCount *n)
{
  n->total = MAX(n->total, (guint)e->config->max_parents);
  if (n->total > 1)
    g_string_append_printf(s, "%u of %u parents up", n->up, n->total);
  else
    g_string_append(s, n->up > 0 ? "parent up" : "parent down");
  if (e->active_parent != NULL)
    g_string_append_printf(s, n->total > 1 ? " (active %s)" : " (%s)",
                           e->active_parent->peer_label);
  else if (n->down_error != NULL) {
    g_string_append(s, " (");
    append_error(s, n->down_error);
    g_string_append_c(s, ')');
  }
}

static void
append_listeners(TfstEngine *e, GString *s)
{
  /* The port the rule chose is what an administrator looks for first. */
  for (guint i = 0; i < e->listeners->len; i++) {
    const TfstListener *l = g_ptr_array_index(e->listeners, i);
    g_string_append_printf(s, "%s%u", i == 0 ? "; listening on port " : ", ",
                           tfst_addr_port(&l->addr));
  }
}

char *
tfst_status_text(TfstEngine *e)
{
  GString *s = g_string_new(NULL);
  gboolean degraded = FALSE;

  if (e->config->role != TFST_ROLE_GWPROXY) {
    TfstStatusCount children = status_count(e, TFST_HOP_TO_CHILD);

    append_children(s, &children);
    g_string_append(s, ", ");
    degraded |= children.up < children.total;
  }
  if (e->config->role != TFST_ROLE_EPPROXY) {
    TfstStatusCount parents = status_count(e, TFST_HOP_TO_PARENT);

    append_parents(e, s, &parents);
    g_string_append(s, ", ");
    degraded |= parents.up < parents.total;
  }
  if (degraded)
    g_string_append(s, "degraded, ");
  g_string_append_printf(s, "%u sessions", e->sessions.length);
  append_listeners(e, s);
  return g_string_free(s, FALSE);
}
