/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl dataflow: the bytes that move through a session, a hop or the
 * whole instance during an interval (DataFlow), to tell a stalled
 * connection from a quiet one. */
#include "tfstctl-bus.h"
#include "tfstctl-format.h"
#include "tfstctl-output.h"
#include "tfstctl-values.h"

#include <glib/gi18n.h>

#define DEFAULT_INTERVAL 5
#define MAX_INTERVAL     3600
/* The reply comes after the interval: wait that long and then some. */
#define REPLY_MARGIN_MS 15000

/* "instance" (or "") is the whole instance, the empty string on the bus. */
static const char *
bus_target(const char *target)
{
  return g_str_equal(target, "instance") ? "" : target;
}

static gboolean
is_session_id(const char *target)
{
  return *target != '\0' && g_ascii_string_to_unsigned(target, 10, 0, G_MAXUINT64, NULL, NULL);
}

static char *
describe_target(const char *target)
{
  if (*target == '\0')
    return g_strdup(_("the whole instance"));
  if (is_session_id(target))
    return g_strdup_printf(_("session %s"), target);
  return g_strdup_printf(_("hop %s"), target);
}

/* "1.2 MiB (1258291 bytes)"; small amounts are exact already. */
static char *
amount_text(guint64 bytes)
{
  g_autofree char *size = tfstctl_format_bytes(bytes);
  g_autofree char *exact = NULL;

  if (bytes < 1024)
    return g_steal_pointer(&size);
  exact = g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
  /* TRANSLATORS: the first %s is a size such as "1.2 MiB", the second the
   * exact number of bytes. */
  return g_strdup_printf(
      g_dngettext(GETTEXT_PACKAGE, "%s (%s byte)", "%s (%s bytes)", (gulong)bytes), size, exact);
}

static void
add_row(struct libscols_table *table, const char *name, guint64 bytes, guint seconds)
{
  struct libscols_line *line = scols_table_new_line(table, NULL);

  scols_line_refer_data(line, 0, g_strdup_printf("%s:", name));
  scols_line_refer_data(line, 1, amount_text(bytes));
  scols_line_refer_data(line, 2, tfstctl_format_rate(bytes, seconds));
}

static void
print_text(const char *target, guint seconds, guint64 sent, guint64 received)
{
  g_autoptr(TfstctlScolsTable) table = tfstctl_output_table_new();
  g_autofree char *what = describe_target(target);

  scols_table_enable_noheadings(table, TRUE);
  scols_table_new_column(table, "", 0, 0);
  scols_table_new_column(table, "", 0, 0);
  scols_table_new_column(table, "", 0, SCOLS_FL_RIGHT);
  /* TRANSLATORS: %s is "session 42", "hop LABEL" or "the whole instance". */
  g_print(g_dngettext(GETTEXT_PACKAGE, "Data flow of %s during %u second:\n",
                      "Data flow of %s during %u seconds:\n", seconds),
          what, seconds);
  add_row(table, _("Sent"), sent, seconds);
  add_row(table, _("Received"), received, seconds);
  tfstctl_output_table_print(table);
}

static void
print_json(const char *instance, const char *target, guint seconds, guint64 sent, guint64 received)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_string_member(json, "instance", instance);
  json_object_set_string_member(json, "target", target);
  json_object_set_int_member(json, "interval_us", (gint64)seconds * G_USEC_PER_SEC);
  json_object_set_int_member(json, "sent_bytes", (gint64)sent);
  json_object_set_int_member(json, "received_bytes", (gint64)received);
  tfstctl_output_json_print_object(json);
}

/* --watch: one line per interval, "08:16:20  sent 1.2 MiB (250 KiB/s),
 * received ..."; JSON: one object per line (JSON lines). */
static void
print_watch_line(const char *instance, const char *target, guint seconds, guint64 sent,
                 guint64 received, gboolean json)
{
  gint64 now_us = g_get_real_time();
  g_autoptr(GDateTime) now = g_date_time_new_from_unix_local(now_us / G_USEC_PER_SEC);
  g_autofree char *sent_text = NULL, *sent_rate = NULL, *received_text = NULL;
  g_autofree char *received_rate = NULL, *when = NULL;

  if (json) {
    g_autoptr(JsonObject) o = json_object_new();

    json_object_set_int_member(o, "time_us", now_us);
    json_object_set_string_member(o, "instance", instance);
    json_object_set_string_member(o, "target", target);
    json_object_set_int_member(o, "interval_us", (gint64)seconds * G_USEC_PER_SEC);
    json_object_set_int_member(o, "sent_bytes", (gint64)sent);
    json_object_set_int_member(o, "received_bytes", (gint64)received);
    tfstctl_output_json_print_line(o);
    return;
  }
  when = g_date_time_format(now, "%H:%M:%S");
  sent_text = tfstctl_format_bytes(sent);
  sent_rate = tfstctl_format_rate(sent, seconds);
  received_text = tfstctl_format_bytes(received);
  received_rate = tfstctl_format_rate(received, seconds);
  /* TRANSLATORS: one line of dataflow --watch: the time, then amounts
   * such as "1.2 MiB" and rates such as "250 KiB/s". */
  g_print(_("%s  sent %s (%s), received %s (%s)\n"), when, sent_text, sent_rate, received_text,
          received_rate);
  tfstctl_output_flush();
}

static gboolean
check_arguments(int argc, char **argv, const char *interval_text, gint count, guint *interval,
                GError **error)
{
  if (argc < 2) {
    g_set_error_literal(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                        _("dataflow needs a TARGET: a session id, a hop label or “instance”"));
    return FALSE;
  }
  if (count < 0) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("--count must be 0 or more"));
    return FALSE;
  }
  /* "5", "5s", "2min" as in the configuration. */
  return interval_text == NULL || tfstctl_values_parse_seconds("--interval", interval_text, 1,
                                                               MAX_INTERVAL, interval, error);
}

/* Back to back: each call measures the next interval, so the lines
 * cover the time without gaps beyond a round trip.  Ends on an error
 * (the target went away: its exit status) or after `count` lines. */
static int
watch_flow(TfstctlBus *bus, TfstDbusTfst1Instance *proxy, const char *instance, const char *target,
           guint interval, guint count, gboolean json)
{
  int timeout = MAX((int)interval * 1000 + REPLY_MARGIN_MS, tfstctl_bus_call_timeout(bus));

  if (!json) {
    g_autofree char *what = describe_target(target);
    /* TRANSLATORS: %s is "session 42", "hop LABEL" or "the whole instance". */
    g_print(g_dngettext(GETTEXT_PACKAGE, "Data flow of %s, every %u second:\n",
                        "Data flow of %s, every %u seconds:\n", interval),
            what, interval);
  }
  for (guint i = 0; count == 0 || i < count; i++) {
    g_autoptr(GError) error = NULL;
    guint64 sent = 0, received = 0;

    if (!tfst_dbus_tfst1_instance_call_data_flow_sync(proxy, target, interval,
                                                      tfstctl_bus_call_flags(bus), timeout, &sent,
                                                      &received, NULL, &error))
      return tfstctl_fail(error);
    print_watch_line(instance, target, interval, sent, received, json);
  }
  return TFSTCTL_EXIT_OK;
}

/* One interval, printed. */
static int
measure_once(TfstctlBus *bus, TfstDbusTfst1Instance *proxy, const char *instance,
             const char *target, guint interval, gboolean json)
{
  g_autoptr(GError) error = NULL;
  int timeout = MAX((int)interval * 1000 + REPLY_MARGIN_MS, tfstctl_bus_call_timeout(bus));
  guint64 sent = 0;
  guint64 received = 0;

  if (!tfst_dbus_tfst1_instance_call_data_flow_sync(proxy, target, interval,
                                                    tfstctl_bus_call_flags(bus), timeout, &sent,
                                                    &received, NULL, &error))
    return tfstctl_fail(error);
  if (json)
    print_json(instance, target, interval, sent, received);
  else
    print_text(target, interval, sent, received);
  return TFSTCTL_EXIT_OK;
}

int
tfstctl_dataflow(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  g_autofree char *instance = NULL;
  const char *target;
  guint interval = DEFAULT_INTERVAL;
  g_autofree char *interval_text = NULL;
  gboolean watch = FALSE;
  gint count = 0;
  const GOptionEntry entries[] = {
      {"interval", 0, 0, G_OPTION_ARG_STRING, &interval_text,
       N_("Measure for this long, 1s-1h (default 5s)"), N_("TIME")},
      {"watch", 'w', 0, G_OPTION_ARG_NONE, &watch,
       N_("Measure again and again, one line per interval, until interrupted"), NULL},
      {"count", 'c', 0, G_OPTION_ARG_INT, &count,
       N_("With --watch: stop after N intervals (default: never)"), N_("N")},
      {NULL},
  };

  ctx = tfstctl_option_context_new(_("TARGET"),
                                   _("Measure the bytes sent and received during an interval by a "
                                     "session (its id), a hop (the label of its peer) or the whole "
                                     "instance (“instance”)."),
                                   entries, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error) ||
      !check_arguments(argc, argv, interval_text, count, &interval, &error))
    return tfstctl_fail(error);
  target = bus_target(argv[1]);
  proxy = tfstctl_bus_open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  instance = tfstctl_instance_name(proxy);
  if (watch)
    return watch_flow(bus, proxy, instance, target, interval, (guint)count, opts.json);
  return measure_once(bus, proxy, instance, target, interval, opts.json);
}
