/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Ipsec (see tfst-ipsec-interface.h).  Netlink dumps and /proc reads
 * run in GTask threads so a slow kernel never stalls the bus. */
#include "tfst-ipsec-interface.h"
#include "tfst-invocation.h"
#include "tfst-dbus-generated.h"
#include "tfst-error.h"
#include "tfst-xfrm-kernel.h"
#include "tfst-xfrm-monitor.h"

/* ConflictDetected: "at most 10 per second" (the XML). */
#define TFST_IPSEC_SIGNALS_PER_SECOND 10

typedef struct {
  TfstDbusTfst1Ipsec *skeleton; /* not a reference: it owns us; NULL once gone */
  TfstLog *log;
  TfstXfrmMonitor *monitor;
  gint64 window_start_us;
  guint window_count;
  guint suppressed; /* conflicts not reported in this window */
  guint report_id;  /* timeout: log `suppressed` when the window ends */
} TfstIpsec;

static void
ipsec_clear(TfstIpsec *ipsec)
{
  g_clear_pointer(&ipsec->monitor, tfst_xfrm_monitor_free);
}

static TfstIpsec *
ipsec_ref(TfstIpsec *ipsec)
{
  return g_rc_box_acquire(ipsec);
}

static void
ipsec_unref(TfstIpsec *ipsec)
{
  g_rc_box_release_full(ipsec, (GDestroyNotify)ipsec_clear);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstIpsec, ipsec_unref)

/* The skeleton is being finalized: stop watching, and let scans still
 * running in threads find it gone. */
static void
ipsec_detach(gpointer data)
{
  TfstIpsec *ipsec = data;

  ipsec->skeleton = NULL;
  g_clear_pointer(&ipsec->monitor, tfst_xfrm_monitor_free);
  g_clear_handle_id(&ipsec->report_id, g_source_remove);
  ipsec_unref(ipsec);
}

/* ---- methods: a reply built in a thread ---- */

typedef GVariant *(*TfstIpsecWorkFunc)(GVariant *parameters, GError **error);

typedef struct {
  TfstIpsecWorkFunc func;
} TfstIpsecWork;

typedef struct {
  const TfstIpsecWork *work;
  GVariant *parameters;
} TfstIpsecCall;

static void
call_free(TfstIpsecCall *call)
{
  g_variant_unref(call->parameters);
  g_free(call);
}

static void
work_thread_cb(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  const TfstIpsecCall *call = data;
  GError *error = NULL;
  GVariant *reply = call->work->func(call->parameters, &error);

  if (reply == NULL)
    g_task_return_error(task, error);
  else
    g_task_return_pointer(task, reply, (GDestroyNotify)g_variant_unref);
}

static void
run_work(GDBusMethodInvocation *invocation, const TfstIpsecWork *work)
{
  g_autoptr(GTask) task = g_task_new(NULL, NULL, tfst_invocation_return_task_cb, invocation);
  TfstIpsecCall *call = g_new0(TfstIpsecCall, 1);

  call->work = work;
  call->parameters = g_variant_ref(g_dbus_method_invocation_get_parameters(invocation));
  g_task_set_task_data(task, call, (GDestroyNotify)call_free);
  g_task_run_in_thread(task, work_thread_cb);
}

static void
add_sa_fields(GVariantBuilder *b, const TfstXfrmSa *sa)
{
  char buf[4];

  g_variant_builder_add(b, "u", sa->spi);
  g_variant_builder_add(b, "s", tfst_xfrm_proto_to_string(sa->proto, buf));
  g_variant_builder_add(b, "s", sa->source);
  g_variant_builder_add(b, "s", sa->destination);
  g_variant_builder_add(b, "s", sa->mode);
}

static GVariant *
list_sas_work_cb(GVariant *parameters, GError **error)
{
  g_autoptr(GArray) sas = tfst_xfrm_kernel_list_sas(error);
  GVariantBuilder b;

  if (sas == NULL)
    return NULL;
  g_variant_builder_init(&b, G_VARIANT_TYPE("(a(ussssuttuuu))"));
  g_variant_builder_open(&b, G_VARIANT_TYPE("a(ussssuttuuu)"));
  for (guint i = 0; i < sas->len; i++) {
    const TfstXfrmSa *sa = &g_array_index(sas, TfstXfrmSa, i);

    g_variant_builder_open(&b, G_VARIANT_TYPE("(ussssuttuuu)"));
    add_sa_fields(&b, sa);
    g_variant_builder_add(&b, "u", sa->reqid);
    g_variant_builder_add(&b, "t", sa->bytes);
    g_variant_builder_add(&b, "t", sa->packets);
    g_variant_builder_add(&b, "u", sa->replay_window_failures);
    g_variant_builder_add(&b, "u", sa->replay_failures);
    g_variant_builder_add(&b, "u", sa->integrity_failures);
    g_variant_builder_close(&b);
  }
  g_variant_builder_close(&b);
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static GVariant *
check_spi_work_cb(GVariant *parameters, GError **error)
{
  g_autoptr(GArray) sas = NULL;
  const char *destination_arg, *protocol;
  char destination[INET6_ADDRSTRLEN];
  guint32 spi;
  guint8 proto;
  GVariantBuilder b;

  g_variant_get(parameters, "(u&s&s)", &spi, &destination_arg, &protocol);
  if (spi == 0) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS, "SPI 0 is not a valid SPI");
    return NULL;
  }
  if (!tfst_xfrm_spi_valid(spi, error) || !tfst_xfrm_proto_from_string(protocol, &proto, error) ||
      !tfst_xfrm_canonical_address(destination_arg, destination, error))
    return NULL;
  sas = tfst_xfrm_kernel_list_sas(error);
  if (sas == NULL)
    return NULL;
  g_variant_builder_init(&b, G_VARIANT_TYPE("(a(usssss))"));
  g_variant_builder_open(&b, G_VARIANT_TYPE("a(usssss)"));
  for (guint i = 0; i < sas->len; i++) {
    const TfstXfrmSa *sa = &g_array_index(sas, TfstXfrmSa, i);
    TfstXfrmConflict kind = tfst_xfrm_classify(sa, spi, destination, proto);

    if (kind == TFST_XFRM_CONFLICT_NONE)
      continue;
    g_variant_builder_open(&b, G_VARIANT_TYPE("(usssss)"));
    add_sa_fields(&b, sa);
    g_variant_builder_add(&b, "s", tfst_xfrm_conflict_to_string(kind));
    g_variant_builder_close(&b);
  }
  g_variant_builder_close(&b);
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static GVariant *
find_conflicts_work_cb(GVariant *parameters, GError **error)
{
  g_autoptr(GArray) sas = tfst_xfrm_kernel_list_sas(error);
  g_autoptr(GPtrArray) groups = NULL;
  GVariantBuilder b;

  if (sas == NULL)
    return NULL;
  groups = tfst_xfrm_find_conflicts(sas);
  g_variant_builder_init(&b, G_VARIANT_TYPE("(a(usa(sss)))"));
  g_variant_builder_open(&b, G_VARIANT_TYPE("a(usa(sss))"));
  for (guint i = 0; i < groups->len; i++) {
    const TfstXfrmConflictGroup *group = g_ptr_array_index(groups, i);

    g_variant_builder_open(&b, G_VARIANT_TYPE("(usa(sss))"));
    g_variant_builder_add(&b, "u", group->spi);
    g_variant_builder_add(&b, "s", tfst_xfrm_conflict_to_string(group->kind));
    g_variant_builder_open(&b, G_VARIANT_TYPE("a(sss)"));
    for (guint j = 0; j < group->sas->len; j++) {
      const TfstXfrmSa *sa = &g_array_index(group->sas, TfstXfrmSa, j);
      char buf[4];

      g_variant_builder_add(&b, "(sss)", tfst_xfrm_proto_to_string(sa->proto, buf), sa->source,
                            sa->destination);
    }
    g_variant_builder_close(&b);
    g_variant_builder_close(&b);
  }
  g_variant_builder_close(&b);
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static GVariant *
statistics_work_cb(GVariant *parameters, GError **error)
{
  g_autoptr(GVariant) counters = tfst_xfrm_kernel_read_stat(error);

  if (counters == NULL)
    return NULL;
  return g_variant_ref_sink(g_variant_new("(@a{st})", counters));
}

static const TfstIpsecWork list_sas_work = {list_sas_work_cb};
static const TfstIpsecWork check_spi_work = {check_spi_work_cb};
static const TfstIpsecWork find_conflicts_work = {find_conflicts_work_cb};
static const TfstIpsecWork statistics_work = {statistics_work_cb};

static void
list_sas_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  run_work(invocation, &list_sas_work);
}

static void
check_spi_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  run_work(invocation, &check_spi_work);
}

static void
find_conflicts_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  run_work(invocation, &find_conflicts_work);
}

static void
statistics_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  run_work(invocation, &statistics_work);
}

static const TfstAuthzMethod ipsec_methods[] = {
    {"ListSAs", TFST_ACTION_OBSERVE, list_sas_cb},
    {"CheckSpi", TFST_ACTION_OBSERVE, check_spi_cb},
    {"FindConflicts", TFST_ACTION_OBSERVE, find_conflicts_cb},
    {"Statistics", TFST_ACTION_OBSERVE, statistics_cb},
};

/* ---- ConflictDetected ---- */

typedef struct {
  TfstIpsec *ipsec;
  TfstXfrmSa sa;
  TfstXfrmConflict kind;
  GArray *conflicts; /* TfstXfrmSa */
} TfstIpsecScan;

static void
scan_free(TfstIpsecScan *scan)
{
  g_clear_pointer(&scan->ipsec, ipsec_unref);
  g_clear_pointer(&scan->conflicts, g_array_unref);
  g_free(scan);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstIpsecScan, scan_free)

/* The journal learns how many conflicts the rate limit kept back, once
 * their window is over. */
static gboolean
window_over_cb(gpointer data)
{
  TfstIpsec *ipsec = data;

  ipsec->report_id = 0;
  tfst_log(ipsec->log, LOG_NOTICE,
           "%u more IPsec SPI conflicts within a second were not reported (rate limit)",
           ipsec->suppressed);
  ipsec->suppressed = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
rate_limit_allows(TfstIpsec *ipsec)
{
  gint64 now = g_get_monotonic_time();
  gint64 left_us;

  if (now - ipsec->window_start_us >= G_USEC_PER_SEC) {
    ipsec->window_start_us = now;
    ipsec->window_count = 0;
  }
  if (ipsec->window_count < TFST_IPSEC_SIGNALS_PER_SECOND) {
    ipsec->window_count++;
    return TRUE;
  }
  ipsec->suppressed++;
  if (ipsec->report_id == 0) {
    left_us = ipsec->window_start_us + G_USEC_PER_SEC - now;
    ipsec->report_id = g_timeout_add((guint)(MAX(left_us, 0) / 1000) + 1, window_over_cb, ipsec);
  }
  return FALSE;
}

static char *
describe_sa(const TfstXfrmSa *sa)
{
  char buf[4];

  return g_strdup_printf("%s %s -> %s", tfst_xfrm_proto_to_string(sa->proto, buf), sa->source,
                         sa->destination);
}

static void
report_conflict(TfstIpsec *ipsec, const TfstIpsecScan *scan)
{
  static const TfstLogFields fields = {.message_id = TFST_MSGID_SPI_CONFLICT};
  const char *kind = tfst_xfrm_conflict_to_string(scan->kind);
  g_autoptr(GString) others = g_string_new(NULL);
  g_autofree char *what = describe_sa(&scan->sa);
  char buf[4];

  for (guint i = 0; i < scan->conflicts->len; i++) {
    g_autofree char *other = describe_sa(&g_array_index(scan->conflicts, TfstXfrmSa, i));

    g_string_append_printf(others, "%s%s", i > 0 ? ", " : "", other);
  }
  tfst_log_full(ipsec->log, LOG_WARNING, &fields,
                "IPsec SPI conflict (%s): new SA spi 0x%08x %s collides with %s", kind,
                scan->sa.spi, what, others->str);
  tfst_dbus_tfst1_ipsec_emit_conflict_detected(ipsec->skeleton, scan->sa.spi,
                                               tfst_xfrm_proto_to_string(scan->sa.proto, buf),
                                               scan->sa.source, scan->sa.destination, kind);
}

static void
scan_thread_cb(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  TfstIpsecScan *scan = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) sas = tfst_xfrm_kernel_list_sas(&error);

  if (sas == NULL) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  scan->conflicts = tfst_xfrm_conflicts_of(sas, &scan->sa, &scan->kind);
  g_task_return_boolean(task, TRUE);
}

static void
scan_done_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  TfstIpsecScan *scan = g_task_get_task_data(G_TASK(res));
  TfstIpsec *ipsec = scan->ipsec;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean(G_TASK(res), &error)) {
    tfst_log(ipsec->log, LOG_DEBUG, "IPsec SA scan after a new SA failed: %s", error->message);
    return;
  }
  if (ipsec->skeleton == NULL || scan->kind == TFST_XFRM_CONFLICT_NONE)
    return;
  if (rate_limit_allows(ipsec))
    report_conflict(ipsec, scan);
}

/* The event carries the new SA only; what it collides with needs a fresh
 * dump, which runs in a thread like the method calls. */
static void
new_sa_cb(const TfstXfrmSa *sa, gpointer data)
{
  TfstIpsec *ipsec = data;
  g_autoptr(GTask) task = NULL;
  TfstIpsecScan *scan;

  if (sa->spi == 0)
    return;
  scan = g_new0(TfstIpsecScan, 1);
  scan->ipsec = ipsec_ref(ipsec);
  scan->sa = *sa;
  task = g_task_new(NULL, NULL, scan_done_cb, NULL);
  g_task_set_task_data(task, scan, (GDestroyNotify)scan_free);
  g_task_run_in_thread(task, scan_thread_cb);
}

/* ---- life cycle ---- */

GDBusInterfaceSkeleton *
tfst_ipsec_interface_new(TfstAuthz *authz, TfstLog *log)
{
  g_autoptr(TfstDbusTfst1Ipsec) skeleton = tfst_dbus_tfst1_ipsec_skeleton_new();
  TfstIpsec *ipsec = g_rc_box_new0(TfstIpsec);
  g_autoptr(GError) error = NULL;

  ipsec->skeleton = skeleton;
  ipsec->log = log;
  g_object_set_data_full(G_OBJECT(skeleton), "tfst-ipsec", ipsec, ipsec_detach);
  ipsec->monitor = tfst_xfrm_monitor_new(new_sa_cb, ipsec, &error);
  if (ipsec->monitor == NULL)
    tfst_log(log, LOG_WARNING, "IPsec SPI conflicts will not be signalled: %s", error->message);
  tfst_authz_dispatch(authz, G_DBUS_INTERFACE_SKELETON(skeleton), ipsec_methods,
                      G_N_ELEMENTS(ipsec_methods), ipsec);
  return G_DBUS_INTERFACE_SKELETON(g_steal_pointer(&skeleton));
}
