/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl trace: named packet traces of one peer (org.tfst.Tfst1.Trace):
 * define, list, show, pause, resume, delete and export as a pcap file. */
#include "tfstctl-bus.h"
#include "tfstctl-format.h"
#include "tfstctl-fields.h"
#include "tfstctl-output.h"
#include "tfstctl-values.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n.h>
#include <string.h>
#include <unistd.h>

#define TRACE_INTERFACE    "org.tfst.Tfst1.Trace"
#define TRACE_DEFAULT_SIZE (1024 * 1024)

/* What every subcommand shares: its options, the bus, the proxy. */
typedef struct {
  TfstctlOptions opts;
  TfstctlBus *bus;
  GDBusProxy *proxy;
} Trace;

static void
trace_clear(Trace *t)
{
  g_clear_object(&t->proxy);
  g_clear_pointer(&t->bus, tfstctl_bus_free);
  tfstctl_options_clear(&t->opts);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Trace, trace_clear)

/* Parses the options and exactly n_args arguments. */
static gboolean
trace_parse(Trace *t, int *argc, char ***argv, const char *parameters, const char *summary,
            const GOptionEntry *entries, int n_args, GError **error)
{
  g_autoptr(GOptionContext) ctx =
      tfstctl_option_context_new(parameters, summary, entries, &t->opts, TRUE);

  if (!tfstctl_parse_options(ctx, argc, argv, n_args, error))
    return FALSE;
  if (*argc - 1 < n_args) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("%s needs %s; see --help"), (*argv)[0],
                parameters);
    return FALSE;
  }
  return TRUE;
}

static gboolean
trace_connect(Trace *t, GError **error)
{
  t->bus = tfstctl_bus_new(&t->opts, error);
  if (t->bus == NULL)
    return FALSE;
  t->proxy = tfstctl_bus_get_interface(t->bus, t->opts.instance, TRACE_INTERFACE, error);
  if (t->proxy == NULL)
    return FALSE;
  tfstctl_bus_prepare_auth(t->bus);
  return TRUE;
}

static gboolean
trace_open(Trace *t, int *argc, char ***argv, const char *parameters, const char *summary,
           const GOptionEntry *entries, int n_args, GError **error)
{
  return trace_parse(t, argc, argv, parameters, summary, entries, n_args, error) &&
         trace_connect(t, error);
}

static GVariant *
trace_call(Trace *t, const char *method, GVariant *args, GUnixFDList *fds, GError **error)
{
  return g_dbus_proxy_call_with_unix_fd_list_sync(
      t->proxy, method, args, tfstctl_bus_call_flags(t->bus), tfstctl_bus_call_timeout(t->bus), fds,
      NULL, NULL, error);
}

static char *
trace_instance(Trace *t)
{
  /* tfstctl_instance_name() only reads the proxy's bus name. */
  return tfstctl_instance_name((TfstDbusTfst1Instance *)t->proxy);
}

/* --json of the commands that change a trace: {"instance", "trace", ...}. */
static JsonObject *
result_new(Trace *t, const char *name)
{
  JsonObject *json = json_object_new();
  g_autofree char *instance = trace_instance(t);

  json_object_set_string_member(json, "instance", instance);
  tfstctl_output_json_set_text(json, "trace", name);
  return json;
}

/* ---- define ---- */

static int
trace_define(int argc, char **argv)
{
  g_auto(Trace) t = {0};
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  guint64 size = TRACE_DEFAULT_SIZE;
  g_autofree char *size_text = NULL;
  gboolean wrap = FALSE;
  guint64 port = 0;
  const GOptionEntry entries[] = {
      {"size", 0, 0, G_OPTION_ARG_STRING, &size_text,
       N_("Buffer size, 4K-64M, such as 65536 or 1M (default 1M)"), N_("SIZE")},
      {"wrap", 0, 0, G_OPTION_ARG_NONE, &wrap,
       N_("Overwrite the oldest packets when the buffer is full, instead of stopping"), NULL},
      {NULL},
  };

  if (!trace_parse(&t, &argc, &argv, _("NAME ADDRESS PORT"),
                   _("Define a trace and start capturing the TCP packets exchanged with ADDRESS "
                     "(a numeric IPv4 or IPv6 address) and its port PORT, or every port with 0."),
                   entries, 3, &error))
    return tfstctl_fail(error);
  if (!g_ascii_string_to_unsigned(argv[3], 10, 0, G_MAXUINT16, &port, NULL)) {
    g_set_error(&error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("%s expected, not “%s”"),
                _("a port 0-65535"), argv[3]);
    return tfstctl_fail(error);
  }
  /* The instance checks too; a typo should not need the bus to be told. */
  if (size_text != NULL &&
      !tfstctl_values_parse_size("--size", size_text, 4096, 67108864, &size, &error))
    return tfstctl_fail(error);
  if (!trace_connect(&t, &error))
    return tfstctl_fail(error);
  reply = trace_call(&t, "Define",
                     g_variant_new("(ssqub)", argv[1], argv[2], (guint16)port, (guint32)size, wrap),
                     NULL, &error);
  if (reply == NULL)
    return tfstctl_fail(error);
  if (t.opts.json) {
    g_autoptr(JsonObject) json = result_new(&t, argv[1]);
    tfstctl_output_json_set_text(json, "address", argv[2]);
    json_object_set_int_member(json, "port", port);
    json_object_set_int_member(json, "size_bytes", (gint64)size);
    json_object_set_boolean_member(json, "wrap", wrap);
    tfstctl_output_json_print_object(json);
  }
  return TFSTCTL_EXIT_OK;
}

/* ---- list ---- */

/* One trace of List(). */
#define TRACE_ROW "(ssquuubbs)"

/* Port 0 is every port of the address. */
static char *
trace_remote_cell_cb(GVariant *row, const TfstctlField *field)
{
  const char *address = NULL;
  guint16 port = 0;

  g_variant_get_child(row, field->member, "&s", &address);
  g_variant_get_child(row, field->port, "q", &port);
  if (port != 0)
    return tfstctl_format_endpoint(address, port);
  return g_strdup_printf(_("%s (any port)"), address);
}

static const TfstctlField trace_fields[] = {
    {N_("NAME"), "name", 0},
    {N_("REMOTE"), "address", 1, TFSTCTL_FIELD_CUSTOM, .port = 2, .cell = trace_remote_cell_cb},
    {NULL, "port", 2},
    {N_("SIZE"), "size_bytes", 3, TFSTCTL_FIELD_BYTES, TFSTCTL_FIELD_RIGHT},
    {N_("USED"), "used_bytes", 4, TFSTCTL_FIELD_BYTES, TFSTCTL_FIELD_RIGHT},
    {N_("PACKETS"), "packets", 5, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("WRAP"), "wrap", 6, TFSTCTL_FIELD_YES_NO},
    {N_("PAUSED"), "paused", 7, TFSTCTL_FIELD_YES_NO},
    {N_("STATUS"), "status", 8},
};
static const TfstctlFields trace_desc = TFSTCTL_FIELDS(TRACE_ROW, trace_fields);

static void
list_print_json(GVariant *traces, const char *instance)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_string_member(json, "instance", instance);
  json_object_set_array_member(json, "traces", tfstctl_fields_json_rows(&trace_desc, traces));
  tfstctl_output_json_print_object(json);
}

static int
trace_list(int argc, char **argv)
{
  g_auto(Trace) t = {0};
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) traces = NULL;

  if (!trace_open(&t, &argc, &argv, NULL,
                  _("List the traces of an instance: the remote end, buffer size and use, "
                    "packets, wrap, paused and status (EMPTY, ACTIVE or FULL)."),
                  NULL, 0, &error))
    return tfstctl_fail(error);
  reply = trace_call(&t, "List", NULL, NULL, &error);
  if (reply == NULL)
    return tfstctl_fail(error);
  traces = g_variant_get_child_value(reply, 0);
  if (t.opts.json) {
    g_autofree char *instance = trace_instance(&t);
    list_print_json(traces, instance);
  } else if (g_variant_n_children(traces) == 0) {
    g_print(_("No traces.\n"));
  } else {
    tfstctl_fields_print_table(&trace_desc, traces);
  }
  return TFSTCTL_EXIT_OK;
}

/* ---- show ---- */

/* One packet of Show(). */
#define PACKET_ROW "(tsqsqsuuquay)"

static char *
packet_time_cell_cb(GVariant *row, const TfstctlField *field)
{
  guint64 usec = 0;
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *seconds = NULL;

  g_variant_get_child(row, field->member, "t", &usec);
  dt = g_date_time_new_from_unix_local((gint64)(usec / G_USEC_PER_SEC));
  seconds = dt != NULL ? g_date_time_format(dt, "%H:%M:%S") : NULL;
  /* Packets of one connection are microseconds apart. */
  return g_strdup_printf("%s.%06u", seconds != NULL ? seconds : "?",
                         (guint)(usec % G_USEC_PER_SEC));
}

/* --json adds the header bytes (hex), which no table could show. */
static const TfstctlField packet_fields[] = {
    {N_("TIME"), "time_us", 0, TFSTCTL_FIELD_CUSTOM, .cell = packet_time_cell_cb},
    {N_("SOURCE"), "source", 1, TFSTCTL_FIELD_ENDPOINT, .port = 2},
    {NULL, "source_port", 2},
    {N_("DESTINATION"), "destination", 3, TFSTCTL_FIELD_ENDPOINT, .port = 4},
    {NULL, "destination_port", 4},
    {N_("FLAGS"), "flags", 5, TFSTCTL_FIELD_DASH},
    {N_("SEQ"), "seq", 6, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("ACK"), "ack", 7, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("WINDOW"), "window", 8, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("LENGTH"), "length", 9, .flags = TFSTCTL_FIELD_RIGHT},
    {NULL, "headers", 10},
};
static const TfstctlFields packet_desc = TFSTCTL_FIELDS(PACKET_ROW, packet_fields);

static void
show_print_json(GVariant *packets, const char *instance, const char *name)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_string_member(json, "instance", instance);
  json_object_set_string_member(json, "trace", name);
  json_object_set_array_member(json, "packets", tfstctl_fields_json_rows(&packet_desc, packets));
  tfstctl_output_json_print_object(json);
}

static int
trace_show(int argc, char **argv)
{
  g_auto(Trace) t = {0};
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) packets = NULL;

  if (!trace_open(&t, &argc, &argv, _("NAME"),
                  _("Show the captured packets of a trace, oldest first: time, addresses and "
                    "ports, TCP flags, sequence and acknowledgement numbers, window and payload "
                    "length.  --json adds the header bytes in hex."),
                  NULL, 1, &error))
    return tfstctl_fail(error);
  reply = trace_call(&t, "Show", g_variant_new("(s)", argv[1]), NULL, &error);
  if (reply == NULL)
    return tfstctl_fail(error);
  packets = g_variant_get_child_value(reply, 0);
  if (t.opts.json) {
    g_autofree char *instance = trace_instance(&t);
    show_print_json(packets, instance, argv[1]);
  } else if (g_variant_n_children(packets) == 0) {
    g_print(_("No packets.\n"));
  } else {
    tfstctl_fields_print_table(&packet_desc, packets);
  }
  return TFSTCTL_EXIT_OK;
}

/* ---- pause, resume, delete ---- */

/* pause and resume call Pause(name, paused); delete calls Delete(name). */
typedef struct {
  const char *method;
  gboolean pause_argument;
  gboolean paused;
  const char *json_key;
} SimpleCall;

static int
trace_simple(int argc, char **argv, const char *summary, const SimpleCall *call)
{
  g_auto(Trace) t = {0};
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *args;

  if (!trace_open(&t, &argc, &argv, _("NAME"), summary, NULL, 1, &error))
    return tfstctl_fail(error);
  args = call->pause_argument ? g_variant_new("(sb)", argv[1], call->paused)
                              : g_variant_new("(s)", argv[1]);
  reply = trace_call(&t, call->method, args, NULL, &error);
  if (reply == NULL)
    return tfstctl_fail(error);
  if (t.opts.json) {
    g_autoptr(JsonObject) json = result_new(&t, argv[1]);
    json_object_set_boolean_member(json, call->json_key,
                                   call->pause_argument ? call->paused : TRUE);
    tfstctl_output_json_print_object(json);
  }
  return TFSTCTL_EXIT_OK;
}

static int
trace_pause(int argc, char **argv)
{
  static const SimpleCall call = {"Pause", TRUE, TRUE, "paused"};

  return trace_simple(argc, argv,
                      _("Pause a trace: nothing is captured until it is resumed; the packets "
                        "captured so far are kept."),
                      &call);
}

static int
trace_resume(int argc, char **argv)
{
  static const SimpleCall call = {"Pause", TRUE, FALSE, "paused"};

  return trace_simple(argc, argv, _("Resume a paused trace."), &call);
}

static int
trace_delete(int argc, char **argv)
{
  static const SimpleCall call = {"Delete", FALSE, FALSE, "deleted"};

  return trace_simple(argc, argv, _("Stop a trace and free its buffer."), &call);
}

/* ---- export ---- */

static int
trace_export(int argc, char **argv)
{
  g_auto(Trace) t = {0};
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
  guint32 count = 0;
  int fd;

  if (!trace_open(&t, &argc, &argv, _("NAME FILE"),
                  _("Write the captured packets of a trace to FILE as a pcap file, readable by "
                    "tcpdump -r and tshark -r.  FILE is created or truncated by tfstctl, with "
                    "the rights of its caller; “-” is standard output."),
                  NULL, 2, &error))
    return tfstctl_fail(error);
  if (g_str_equal(argv[2], "-")) {
    fd = dup(STDOUT_FILENO);
  } else {
    fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  if (fd < 0) {
    int errsv = errno;
    g_set_error(&error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED, _("cannot open “%s”: %s"), argv[2],
                g_strerror(errsv));
    return tfstctl_fail(error);
  }
  /* The list takes the descriptor; the daemon writes through its copy. */
  if (g_unix_fd_list_append(fds, fd, &error) < 0) {
    close(fd);
    return tfstctl_fail(error);
  }
  close(fd);
  reply = trace_call(&t, "Export", g_variant_new("(sh)", argv[1], 0), fds, &error);
  if (reply == NULL)
    return tfstctl_fail(error);
  g_variant_get(reply, "(u)", &count);
  if (t.opts.json) {
    g_autoptr(JsonObject) json = result_new(&t, argv[1]);
    tfstctl_output_json_set_text(json, "file", argv[2]);
    json_object_set_int_member(json, "packets", count);
    tfstctl_output_json_print_object(json);
  } else if (!g_str_equal(argv[2], "-")) {
    g_print(g_dngettext(GETTEXT_PACKAGE, "%u packet written to %s\n", "%u packets written to %s\n",
                        count),
            count, argv[2]);
  }
  return TFSTCTL_EXIT_OK;
}

/* ---- dispatch ---- */

typedef struct {
  const char *name;
  const char *summary; /* N_() */
  int (*run)(int argc, char **argv);
} TraceCommand;

static const TraceCommand trace_commands[] = {
    {"define", N_("Define a trace and start capturing"), trace_define},
    {"list", N_("List the traces"), trace_list},
    {"show", N_("Show the captured packets"), trace_show},
    {"pause", N_("Pause capturing"), trace_pause},
    {"resume", N_("Resume capturing"), trace_resume},
    {"delete", N_("Stop a trace and free its buffer"), trace_delete},
    {"export", N_("Write the packets to a pcap file"), trace_export},
};

static void
print_usage(void)
{
  g_print("%s\n\n", _("Usage: tfstctl trace SUBCOMMAND [OPTION…] [ARGUMENT…]"));
  g_print("%s\n", _("Subcommands:"));
  for (guint i = 0; i < G_N_ELEMENTS(trace_commands); i++)
    g_print("  %-8s %s\n", trace_commands[i].name, _(trace_commands[i].summary));
  g_print("\n%s\n", _("Run “tfstctl trace SUBCOMMAND --help” for its arguments and options."));
}

int
tfstctl_trace(int argc, char **argv)
{
  g_autofree char **sub_argv = g_new0(char *, argc + 1);
  g_autofree char *prgname = NULL;
  const TraceCommand *cmd = NULL;
  int sub_argc = 1;
  int at = 0;

  /* The subcommand is the first argument that is not an option; global
   * options (--json, --instance=...) may come before it. */
  for (int i = 1; i < argc && at == 0; i++)
    if (argv[i][0] != '-')
      at = i;
  if (at == 0) {
    gboolean help = FALSE;
    for (int i = 1; i < argc; i++)
      help = help || g_str_equal(argv[i], "--help") || g_str_equal(argv[i], "-h");
    if (help) {
      print_usage();
      return TFSTCTL_EXIT_OK;
    }
    g_printerr(_("tfstctl: trace needs a subcommand; see tfstctl trace --help\n"));
    return TFSTCTL_EXIT_USAGE;
  }
  for (guint i = 0; i < G_N_ELEMENTS(trace_commands); i++)
    if (g_str_equal(trace_commands[i].name, argv[at]))
      cmd = &trace_commands[i];
  if (cmd == NULL) {
    g_printerr(_("tfstctl: unknown trace subcommand “%s”; see tfstctl trace --help\n"), argv[at]);
    return TFSTCTL_EXIT_USAGE;
  }
  sub_argv[0] = argv[at];
  for (int i = 1; i < argc; i++)
    if (i != at)
      sub_argv[sub_argc++] = argv[i];
  prgname = g_strdup_printf("tfstctl trace %s", cmd->name);
  g_set_prgname(prgname);
  return cmd->run(sub_argc, sub_argv);
}
