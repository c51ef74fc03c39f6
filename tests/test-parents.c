/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The contract of tfst-parents.c, on parent hops made by hand (no sockets):
 * the most preferred usable parent is active; failover is immediate;
 * failback waits for FailbackDelay= unless the parent never could take
 * sessions before; a forward goes where it is served; a retry avoids the
 * hop that failed. */
#include "tfst-engine-private.h"

#include <string.h>

typedef struct {
  TfstConfig *config;
  TfstLog log;
  TfstEngine *e;
  TfstConnector conn[3];
  TfstHop hop[3];
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *labels[] = {"relayA", "relayB", "relayC"};

  f->config = tfst_config_load_from_data(
      TFST_ROLE_GWPROXY, "test",
      "[Parent]\nConnect=127.0.0.1:1 127.0.0.1:2 127.0.0.1:3\nFailbackDelay=never\n", "t.conf",
      &error);
  g_assert_no_error(error);
  tfst_log_init(&f->log, "gwproxy", "test", "gw", 0);
  f->e = tfst_engine_new_state(f->config, &f->log);
  for (guint i = 0; i < G_N_ELEMENTS(f->hop); i++) {
    TfstHop *h = &f->hop[i];
    f->conn[i].index = i;
    h->engine = f->e;
    h->direction = TFST_HOP_TO_PARENT;
    h->connector = &f->conn[i];
    h->preference = i;
    g_strlcpy(h->peer_label, labels[i], sizeof(h->peer_label));
    tfst_tell_msg_init(&h->above);
    h->link.data = h;
    g_queue_push_tail_link(&f->e->hops, &h->link);
    /* The router lists hops once they are up; usable needs up anyway. */
    g_ptr_array_add(f->e->parent_hops, h);
    g_ptr_array_add(f->e->connectors, g_memdup2(&f->conn[i], sizeof(f->conn[i])));
  }
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS(f->hop); i++)
    tfst_tell_msg_clear(&f->hop[i].above);
  g_queue_init(&f->e->hops);
  g_ptr_array_set_size(f->e->connectors, 0);
  tfst_engine_free(f->e);
  tfst_config_free(f->config);
}

/* Up, and its chain reaches an endpoint proxy. */
static void
set_usable(Fixture *f, guint i, gboolean on)
{
  f->hop[i].up = on;
  f->hop[i].above.rooted = on;
  tfst_parents_update(f->e, on ? NULL : "test: down");
}

static void
serve(Fixture *f, guint i, const char *forward)
{
  TfstForwardEntry fe = {0};

  g_strlcpy(fe.owner, "ep", sizeof(fe.owner));
  g_strlcpy(fe.name, forward, sizeof(fe.name));
  g_array_append_val(f->hop[i].above.forwards, fe);
}

static void
test_most_preferred(Fixture *f, gconstpointer data)
{
  g_assert_null(tfst_parents_for(f->e, NULL));
  g_assert_false(tfst_parents_rooted(f->e));
  set_usable(f, 1, TRUE);
  g_assert_true(tfst_parents_for(f->e, NULL) == &f->hop[1]);
  /* relayA can take sessions for the first time: it takes over at once,
   * even with FailbackDelay=never. */
  set_usable(f, 0, TRUE);
  g_assert_true(tfst_parents_for(f->e, NULL) == &f->hop[0]);
  g_assert_cmpstr(tfst_parents_role(f->e, &f->hop[0]), ==, "active");
  g_assert_cmpstr(tfst_parents_role(f->e, &f->hop[1]), ==, "standby");
  g_assert_cmpstr(tfst_parents_role(f->e, &f->hop[2]), ==, "down");
  g_assert_true(tfst_parents_rooted(f->e));
}

static void
test_failover_and_never(Fixture *f, gconstpointer data)
{
  set_usable(f, 0, TRUE);
  set_usable(f, 1, TRUE);
  /* Up but not rooted any more: as good as down. */
  f->hop[0].above.rooted = FALSE;
  tfst_parents_update(f->e, NULL);
  g_assert_true(f->e->active_parent == &f->hop[1]);
  /* Back: FailbackDelay=never keeps relayB. */
  f->hop[0].above.rooted = TRUE;
  tfst_parents_update(f->e, NULL);
  g_assert_true(f->e->active_parent == &f->hop[1]);
  g_assert_cmpstr(tfst_parents_role(f->e, &f->hop[0]), ==, "standby");
  /* A closing hop is never chosen. */
  f->hop[1].closing = TRUE;
  tfst_parents_update(f->e, "test: closing");
  g_assert_true(f->e->active_parent == &f->hop[0]);
  set_usable(f, 0, FALSE);
  g_assert_null(f->e->active_parent);
  g_assert_null(tfst_parents_for(f->e, "web"));
}

static void
test_failback_delay(Fixture *f, gconstpointer data)
{
  set_usable(f, 0, TRUE);
  set_usable(f, 1, TRUE);
  set_usable(f, 0, FALSE);
  g_assert_true(f->e->active_parent == &f->hop[1]);
  /* With a delay, relayA comes back but waits (no event loop here: the
   * timer cannot be armed, the decision is by time alone). */
  f->config->failback_delay_ms = 30000;
  set_usable(f, 0, TRUE);
  g_assert_true(f->e->active_parent == &f->hop[1]);
  /* Once it has been usable for the delay it takes over. */
  f->hop[0].usable_since_us -= 31 * G_USEC_PER_SEC;
  tfst_parents_update(f->e, NULL);
  g_assert_true(f->e->active_parent == &f->hop[0]);
  /* 0: at once. */
  f->config->failback_delay_ms = 0;
  set_usable(f, 0, FALSE);
  g_assert_true(f->e->active_parent == &f->hop[1]);
  set_usable(f, 0, TRUE);
  g_assert_true(f->e->active_parent == &f->hop[0]);
}

static void
test_forward_served(Fixture *f, gconstpointer data)
{
  set_usable(f, 0, TRUE);
  set_usable(f, 1, TRUE);
  serve(f, 0, "web");
  serve(f, 1, "mgmt");
  g_assert_true(tfst_parents_for(f->e, "web") == &f->hop[0]);
  g_assert_true(tfst_parents_for(f->e, "mgmt") == &f->hop[1]);
  /* Served by none: the active path, whose endpoint proxy will say no. */
  g_assert_true(tfst_parents_for(f->e, "other") == &f->hop[0]);
  /* A retry avoids the hop that failed, even when it serves the forward. */
  g_assert_true(tfst_parents_other(f->e, "web", &f->hop[0]) == &f->hop[1]);
  g_assert_true(tfst_parents_other(f->e, "web", &f->hop[1]) == &f->hop[0]);
  set_usable(f, 1, FALSE);
  g_assert_null(tfst_parents_other(f->e, "web", &f->hop[0]));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/tfst/parents/most-preferred", Fixture, NULL, fixture_set_up, test_most_preferred,
             fixture_tear_down);
  g_test_add("/tfst/parents/failover-and-never", Fixture, NULL, fixture_set_up,
             test_failover_and_never, fixture_tear_down);
  g_test_add("/tfst/parents/failback-delay", Fixture, NULL, fixture_set_up, test_failback_delay,
             fixture_tear_down);
  g_test_add("/tfst/parents/forward-served", Fixture, NULL, fixture_set_up, test_forward_served,
             fixture_tear_down);
  return g_test_run();
}
