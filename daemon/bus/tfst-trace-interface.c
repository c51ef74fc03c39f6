/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-trace-interface.h"
#include "tfst-dbus-generated.h"
#include "tfst-error.h"
#include "tfst-pcap.h"
#include "tfst-trace.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <sys/stat.h>
#include <unistd.h>

/* dbus-daemon's default max_message_size is 32 MiB; leave room for the
 * message header. */
#define TFST_TRACE_SHOW_MAX (31 * 1024 * 1024)

typedef struct {
  TfstLog *log;
  GHashTable *traces; /* name -> TfstTrace */
} TfstTraceState;

static void
state_free(TfstTraceState *state)
{
  g_hash_table_unref(state->traces);
  g_free(state);
}

static guint64
total_size(TfstTraceState *state)
{
  GHashTableIter iter;
  gpointer value;
  guint64 total = 0;

  g_hash_table_iter_init(&iter, state->traces);
  while (g_hash_table_iter_next(&iter, NULL, &value))
    total += tfst_trace_get_size(value);
  return total;
}

/* The trace named by the first argument, or NULL after answering NotFound. */
static TfstTrace *
lookup(TfstTraceState *state, GDBusMethodInvocation *invocation, const char **out_name)
{
  const char *name = NULL;
  TfstTrace *trace;

  g_variant_get_child(g_dbus_method_invocation_get_parameters(invocation), 0, "&s", &name);
  trace = g_hash_table_lookup(state->traces, name);
  if (trace == NULL) {
    g_autofree char *shown = tfst_error_quote_arg(name);
    g_dbus_method_invocation_return_error(invocation, TFST_ERROR, TFST_ERROR_NOT_FOUND,
                                          "no trace named “%s”", shown);
    return NULL;
  }
  if (out_name != NULL)
    *out_name = name;
  return trace;
}

static gboolean
check_room(TfstTraceState *state, const char *name, guint32 size, GError **error)
{
  if (!tfst_trace_check_name(name, error))
    return FALSE;
  if (g_hash_table_contains(state->traces, name)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS, "a trace named “%s” exists already",
                name);
    return FALSE;
  }
  if (g_hash_table_size(state->traces) >= TFST_TRACE_MAX_TRACES) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "too many traces: at most %d at a time; delete one first", TFST_TRACE_MAX_TRACES);
    return FALSE;
  }
  if (total_size(state) + size > (guint64)TFST_TRACE_MAX_TOTAL_MIB * 1024 * 1024) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "buffer size %u would take the traces beyond %d MiB together", size,
                TFST_TRACE_MAX_TOTAL_MIB);
    return FALSE;
  }
  return TRUE;
}

static void
define_cb(GDBusMethodInvocation *invocation, gpointer user_data)
{
  TfstTraceState *state = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstTrace) trace = NULL;
  const char *name, *address;
  guint16 port;
  guint32 size;
  gboolean wrap;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&squb)", &name, &address,
                &port, &size, &wrap);
  if (check_room(state, name, size, &error))
    trace = tfst_trace_new(name, address, port, size, wrap, &error);
  if (trace == NULL) {
    g_dbus_method_invocation_return_gerror(invocation, error);
    return;
  }
  /* Capturing shows other people's traffic: leave a trail. */
  tfst_log_full(state->log, LOG_NOTICE, &(TfstLogFields){.message_id = TFST_MSGID_TRACE},
                "trace %s defined by %s: TCP with %s port %u, %u bytes, %s", name,
                g_dbus_method_invocation_get_sender(invocation), address, port, size,
                wrap ? "wrapping" : "stopping when full");
  g_hash_table_insert(state->traces, g_strdup(name), g_steal_pointer(&trace));
  g_dbus_method_invocation_return_value(invocation, NULL);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(tfst_trace_get_name(a), tfst_trace_get_name(b));
}

static void
list_cb(GDBusMethodInvocation *invocation, gpointer user_data)
{
  TfstTraceState *state = user_data;
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a(ssquuubbs)"));
  g_autoptr(GList) traces = g_list_sort(g_hash_table_get_values(state->traces), compare_names);

  for (GList *l = traces; l != NULL; l = l->next)
    g_variant_builder_add_value(&builder, tfst_trace_to_list_entry(l->data));
  g_dbus_method_invocation_return_value(
      invocation, g_variant_new("(@a(ssquuubbs))", g_variant_builder_end(&builder)));
}

static void
show_cb(GDBusMethodInvocation *invocation, gpointer user_data)
{
  TfstTrace *trace = lookup(user_data, invocation, NULL);
  g_autoptr(GVariant) packets = NULL;

  if (trace == NULL)
    return;
  /* Packets the kernel queued up to now belong in the answer. */
  tfst_trace_drain(trace);
  packets = g_variant_ref_sink(tfst_trace_to_packets(trace));
  /* The bus would drop a larger reply and leave the caller waiting. */
  if (g_variant_get_size(packets) > TFST_TRACE_SHOW_MAX) {
    g_dbus_method_invocation_return_error(
        invocation, TFST_ERROR, TFST_ERROR_FAILED,
        "trace %s holds %zu packets, too many for one D-Bus reply (%d MiB): export it instead",
        tfst_trace_get_name(trace), g_variant_n_children(packets),
        TFST_TRACE_SHOW_MAX / (1024 * 1024));
    return;
  }
  g_dbus_method_invocation_return_value(invocation, g_variant_new("(@a(tsqsqsuuquay))", packets));
}

static void
pause_cb(GDBusMethodInvocation *invocation, gpointer user_data)
{
  TfstTraceState *state = user_data;
  g_autoptr(GError) error = NULL;
  const char *name;
  TfstTrace *trace = lookup(state, invocation, &name);
  gboolean paused = FALSE;

  if (trace == NULL)
    return;
  g_variant_get_child(g_dbus_method_invocation_get_parameters(invocation), 1, "b", &paused);
  if (!tfst_trace_set_paused(trace, paused, &error)) {
    g_prefix_error(&error, "cannot resume trace %s: ", name);
    g_dbus_method_invocation_return_gerror(invocation, error);
    return;
  }
  g_dbus_method_invocation_return_value(invocation, NULL);
}

static void
delete_cb(GDBusMethodInvocation *invocation, gpointer user_data)
{
  TfstTraceState *state = user_data;
  const char *name;

  if (lookup(state, invocation, &name) == NULL)
    return;
  tfst_log_full(state->log, LOG_NOTICE, &(TfstLogFields){.message_id = TFST_MSGID_TRACE},
                "trace %s deleted by %s", name, g_dbus_method_invocation_get_sender(invocation));
  g_hash_table_remove(state->traces, name);
  g_dbus_method_invocation_return_value(invocation, NULL);
}

/* ---- Export: written in a thread, a pipe's reader may be slow ---- */

typedef struct {
  int fd;
  GBytes *records;
} TfstExport;

static void
export_free(TfstExport *export)
{
  if (export->fd >= 0)
    close(export->fd);
  g_bytes_unref(export->records);
  g_free(export);
}

static void
export_thread_cb(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  TfstExport *export = task_data;
  GError *error = NULL;
  gint64 n = tfst_pcap_write(export->fd, export->records, &error);

  /* Closed before the reply: a reader waiting for EOF gets it with it. */
  close(export->fd);
  export->fd = -1;
  if (n < 0)
    g_task_return_error(task, error);
  else
    g_task_return_int(task, (gssize)n);
}

static void
export_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GDBusMethodInvocation) invocation = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_task_propagate_int(G_TASK(res), &error);

  if (n < 0)
    g_dbus_method_invocation_return_gerror(invocation, error);
  else
    g_dbus_method_invocation_return_value(invocation, g_variant_new("(u)", (guint32)n));
}

/* The descriptor the caller passed, duplicated; -1 after answering. */
static int
export_fd(GDBusMethodInvocation *invocation)
{
  GUnixFDList *fds =
      g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(invocation));
  g_autoptr(GError) error = NULL;
  gint32 index = -1;
  struct stat st;
  int fd, mode;

  g_variant_get_child(g_dbus_method_invocation_get_parameters(invocation), 1, "h", &index);
  fd = fds != NULL && index >= 0 && index < g_unix_fd_list_get_length(fds)
           ? g_unix_fd_list_get(fds, index, &error)
           : -1;
  if (fd < 0) {
    g_dbus_method_invocation_return_error(invocation, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                                          "no file descriptor was passed with the call");
    return -1;
  }
  mode = fcntl(fd, F_GETFL);
  if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)) || mode < 0 ||
      (mode & O_ACCMODE) == O_RDONLY) {
    close(fd);
    g_dbus_method_invocation_return_error(
        invocation, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
        "the file descriptor must be a regular file or a pipe, open for writing");
    return -1;
  }
  return fd;
}

static void
export_cb(GDBusMethodInvocation *invocation, gpointer user_data)
{
  TfstTrace *trace = lookup(user_data, invocation, NULL);
  g_autoptr(GTask) task = NULL;
  TfstExport *export;
  guint count;
  int fd;

  if (trace == NULL)
    return;
  fd = export_fd(invocation);
  if (fd < 0)
    return;
  tfst_trace_drain(trace);
  export = g_new0(TfstExport, 1);
  export->fd = fd;
  export->records = tfst_trace_to_records(trace, &count);
  task = g_task_new(NULL, NULL, export_done_cb, g_object_ref(invocation));
  g_task_set_task_data(task, export, (GDestroyNotify)export_free);
  g_task_run_in_thread(task, export_thread_cb);
}

/* List only reads, like the Instance's observe methods; everything else
 * shows or steers a capture of other people's traffic. */
static const TfstAuthzMethod trace_methods[] = {
    {"List", TFST_ACTION_OBSERVE, list_cb},   {"Define", TFST_ACTION_TRACE, define_cb},
    {"Show", TFST_ACTION_TRACE, show_cb},     {"Pause", TFST_ACTION_TRACE, pause_cb},
    {"Delete", TFST_ACTION_TRACE, delete_cb}, {"Export", TFST_ACTION_TRACE, export_cb},
};

GDBusInterfaceSkeleton *
tfst_trace_interface_new(TfstAuthz *authz, TfstLog *log)
{
  GDBusInterfaceSkeleton *skeleton =
      G_DBUS_INTERFACE_SKELETON(tfst_dbus_tfst1_trace_skeleton_new());
  TfstTraceState *state = g_new0(TfstTraceState, 1);

  state->log = log;
  state->traces =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)tfst_trace_free);
  g_object_set_data_full(G_OBJECT(skeleton), "tfst-trace-state", state, (GDestroyNotify)state_free);
  tfst_authz_dispatch(authz, skeleton, trace_methods, G_N_ELEMENTS(trace_methods), state);
  return skeleton;
}
