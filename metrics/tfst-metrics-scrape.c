/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-scrape.h"

#include "tfst-bus-name.h"

#define IFACE_INSTANCE  "org.tfst.Tfst1.Instance"
#define IFACE_EVENTS    "org.tfst.Tfst1.Events"
#define IFACE_IPSEC     "org.tfst.Tfst1.Ipsec"
#define IFACE_KEEPALIVE "org.tfst.Tfst1.Keepalive"

struct _TfstMetricsScraper {
  GDBusConnection *bus;
  gboolean sessions;
  guint timeout_ms;
  guint64 scrapes;
};

/* The state of one scrape, the GTask's data. */
typedef struct {
  TfstMetricsScraper *scraper;
  TfstMetricsScrape *scrape;
  GCancellable *deadline; /* cancelled when the overall timeout is over */
  guint timer_id;
  guint pending; /* calls still out */
  GTask *task;   /* not owned: whoever waits for the connection holds it */
  /* Opening the bus connection does not heed the cancellable once the
   * socket is connected (Hello has its own 25 s timeout): the deadline
   * then fails the scrape itself and the late connection is only kept. */
  gboolean connecting;
  gboolean returned;
} ScrapeRun;

/* One call's destination: the reply goes to *slot of an instance. */
typedef struct {
  GTask *task;
  TfstMetricsInstance *instance;
  GVariant **slot;
  const char *method;
  gboolean optional; /* a remote error is no scrape error */
} CallSlot;

static void
instance_free(gpointer data)
{
  TfstMetricsInstance *inst = data;

  g_free(inst->bus_name);
  g_free(inst->name);
  g_free(inst->role);
  g_free(inst->label);
  g_clear_pointer(&inst->props, g_variant_unref);
  g_clear_pointer(&inst->stats, g_variant_unref);
  g_clear_pointer(&inst->sinks, g_variant_unref);
  g_clear_pointer(&inst->conflicts, g_variant_unref);
  g_clear_pointer(&inst->sessions, g_variant_unref);
  g_clear_pointer(&inst->keepalive[0], g_variant_unref);
  g_clear_pointer(&inst->keepalive[1], g_variant_unref);
  g_free(inst);
}

void
tfst_metrics_scrape_free(TfstMetricsScrape *scrape)
{
  g_clear_pointer(&scrape->instances, g_ptr_array_unref);
  g_free(scrape->first_error);
  g_free(scrape);
}

TfstMetricsScraper *
tfst_metrics_scrape_scraper_new(gboolean sessions, guint timeout_ms)
{
  TfstMetricsScraper *scraper = g_new0(TfstMetricsScraper, 1);

  scraper->sessions = sessions;
  scraper->timeout_ms = timeout_ms;
  return scraper;
}

void
tfst_metrics_scrape_scraper_free(TfstMetricsScraper *scraper)
{
  g_clear_object(&scraper->bus);
  g_free(scraper);
}

static void
scrape_run_free(gpointer data)
{
  ScrapeRun *run = data;

  g_clear_handle_id(&run->timer_id, g_source_remove);
  g_clear_object(&run->deadline);
  g_clear_pointer(&run->scrape, tfst_metrics_scrape_free);
  g_free(run);
}

static void
set_labels(GPtrArray *instances)
{
  for (guint i = 0; i < instances->len; i++) {
    TfstMetricsInstance *inst = g_ptr_array_index(instances, i);
    g_autoptr(GVariant) props = inst->props ? g_variant_get_child_value(inst->props, 0) : NULL;

    if (props == NULL || !g_variant_lookup(props, "Label", "s", &inst->label))
      inst->label = g_strdup("");
  }
}

static void
scrape_done(GTask *task)
{
  ScrapeRun *run = g_task_get_task_data(task);

  set_labels(run->scrape->instances);

  run->scrape->finished_us = g_get_monotonic_time();
  g_clear_handle_id(&run->timer_id, g_source_remove);
  g_task_return_pointer(task, g_steal_pointer(&run->scrape),
                        (GDestroyNotify)tfst_metrics_scrape_free);
}

static void
call_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  CallSlot *call = user_data;
  g_autoptr(GTask) task = call->task;
  ScrapeRun *run = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

  if (reply != NULL) {
    *call->slot = reply;
  } else if (!call->optional || !g_dbus_error_is_remote_error(error)) {
    call->instance->errors++;
    if (run->scrape->first_error == NULL)
      run->scrape->first_error =
          g_strdup_printf("%s %s: %s", call->instance->name, call->method, error->message);
  }
  g_free(call);
  if (--run->pending == 0)
    scrape_done(task);
}

static CallSlot *
call_into(GTask *task, TfstMetricsInstance *inst, GVariant **slot, const char *iface,
          const char *method, GVariant *params, const char *reply_type)
{
  ScrapeRun *run = g_task_get_task_data(task);
  CallSlot *call = g_new0(CallSlot, 1);

  call->task = g_object_ref(task);
  call->instance = inst;
  call->slot = slot;
  call->method = method;
  run->pending++;
  g_dbus_connection_call(run->scraper->bus, inst->bus_name, TFST_BUS_OBJECT_PATH, iface, method,
                         params, G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE,
                         (int)run->scraper->timeout_ms, run->deadline, call_cb, call);
  return call;
}

/* The fixed set of calls for one instance: the cost of a scrape grows with
 * the number of instances, never with the number of sessions (unless
 * per-session series were asked for). */
static void
scrape_instance(GTask *task, TfstMetricsInstance *inst)
{
  ScrapeRun *run = g_task_get_task_data(task);

  call_into(task, inst, &inst->props, "org.freedesktop.DBus.Properties", "GetAll",
            g_variant_new("(s)", IFACE_INSTANCE), "(a{sv})");
  call_into(task, inst, &inst->stats, IFACE_INSTANCE, "GetStatistics", NULL, "(a{sv}t)");
  call_into(task, inst, &inst->sinks, IFACE_EVENTS, "GetSinks", NULL, "(aa{sv})");
  call_into(task, inst, &inst->conflicts, IFACE_IPSEC, "FindConflicts", NULL, "(a(usa(sss)))")
      ->optional = TRUE;
  call_into(task, inst, &inst->keepalive[0], IFACE_KEEPALIVE, "GetSettings",
            g_variant_new("(s)", "hops"), "(a{sv})");
  call_into(task, inst, &inst->keepalive[1], IFACE_KEEPALIVE, "GetSettings",
            g_variant_new("(s)", "sessions"), "(a{sv})");
  if (run->scraper->sessions)
    call_into(task, inst, &inst->sessions, IFACE_INSTANCE, "ListSessions",
              g_variant_new("(@a{sv})", g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
              "(a(tssssstttt))");
}

static TfstMetricsInstance *
instance_from_bus_name(const char *bus_name)
{
  g_autofree char *role = NULL;
  g_autofree char *instance = NULL;
  TfstMetricsInstance *inst;

  if (!tfst_bus_name_parse(bus_name, &role, &instance))
    return NULL;
  inst = g_new0(TfstMetricsInstance, 1);
  inst->bus_name = g_strdup(bus_name);
  inst->name = g_strdup_printf("%s@%s", role, instance);
  inst->role = g_steal_pointer(&role);
  return inst;
}

static int
instance_cmp(gconstpointer a, gconstpointer b)
{
  const TfstMetricsInstance *x = *(TfstMetricsInstance *const *)a;
  const TfstMetricsInstance *y = *(TfstMetricsInstance *const *)b;

  return strcmp(x->name, y->name);
}

static void
list_names_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ScrapeRun *run = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
  g_autofree const char **names = NULL;
  GPtrArray *instances = run->scrape->instances;

  if (reply == NULL) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  g_variant_get(reply, "(^a&s)", &names);
  for (guint i = 0; names[i] != NULL; i++) {
    TfstMetricsInstance *inst = instance_from_bus_name(names[i]);
    if (inst != NULL)
      g_ptr_array_add(instances, inst);
  }
  g_ptr_array_sort(instances, instance_cmp);
  for (guint i = 0; i < instances->len; i++)
    scrape_instance(task, g_ptr_array_index(instances, i));
  if (run->pending == 0)
    scrape_done(task);
}

static void
list_names(GTask *task)
{
  ScrapeRun *run = g_task_get_task_data(task);

  g_dbus_connection_call(run->scraper->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                         "org.freedesktop.DBus", "ListNames", NULL, G_VARIANT_TYPE("(as)"),
                         G_DBUS_CALL_FLAGS_NONE, (int)run->scraper->timeout_ms, run->deadline,
                         list_names_cb, task);
}

/* A connection that came after its scrape gave up serves the next scrapes,
 * unless one of those opened another meanwhile. */
static void
keep_late_connection(TfstMetricsScraper *scraper, GDBusConnection *bus)
{
  if (bus == NULL)
    return;
  if (scraper->bus != NULL && !g_dbus_connection_is_closed(scraper->bus)) {
    g_object_unref(bus);
    return;
  }
  g_clear_object(&scraper->bus);
  scraper->bus = bus;
}

static void
connect_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  ScrapeRun *run = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus = g_dbus_connection_new_for_address_finish(result, &error);

  run->connecting = FALSE;
  if (run->returned) {
    keep_late_connection(run->scraper, bus);
    g_object_unref(task);
    return;
  }
  if (bus == NULL) {
    g_task_return_error(task, g_steal_pointer(&error));
    g_object_unref(task);
    return;
  }
  g_clear_object(&run->scraper->bus);
  run->scraper->bus = bus;
  list_names(task);
}

/* A connection the bus closed (dbus-daemon restarted) is replaced; the
 * address is looked up again each time, as g_bus_get() would. */
static void
ensure_bus(GTask *task)
{
  ScrapeRun *run = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;

  if (run->scraper->bus != NULL && !g_dbus_connection_is_closed(run->scraper->bus)) {
    list_names(task);
    return;
  }
  address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
  if (address == NULL) {
    g_task_return_error(task, g_steal_pointer(&error));
    g_object_unref(task);
    return;
  }
  run->connecting = TRUE;
  g_dbus_connection_new_for_address(address,
                                    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                    NULL, run->deadline, connect_cb, task);
}

static gboolean
deadline_cb(gpointer user_data)
{
  ScrapeRun *run = user_data;

  run->timer_id = 0;
  if (run->connecting && !run->returned) {
    run->returned = TRUE;
    g_task_return_new_error(run->task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                            "no connection to the system bus within %u ms",
                            run->scraper->timeout_ms);
  }
  g_cancellable_cancel(run->deadline);
  return G_SOURCE_REMOVE;
}

void
tfst_metrics_scrape_run(TfstMetricsScraper *scraper, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  GTask *task = g_task_new(NULL, NULL, callback, user_data);
  ScrapeRun *run = g_new0(ScrapeRun, 1);

  g_task_set_source_tag(task, tfst_metrics_scrape_run);
  run->scraper = scraper;
  run->task = task;
  run->scrape = g_new0(TfstMetricsScrape, 1);
  run->scrape->instances = g_ptr_array_new_with_free_func(instance_free);
  run->scrape->started_us = g_get_monotonic_time();
  run->scrape->sessions = scraper->sessions;
  run->scrape->number = ++scraper->scrapes;
  run->deadline = g_cancellable_new();
  /* One bound for the whole scrape, the bus connection included: the
   * per-call timeouts alone would add up along the chain of steps. */
  run->timer_id = g_timeout_add(scraper->timeout_ms, deadline_cb, run);
  g_task_set_task_data(task, run, scrape_run_free);
  ensure_bus(task);
}

TfstMetricsScrape *
tfst_metrics_scrape_run_finish(GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}
