/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the D-Bus commands share: their common options, the system bus
 * connection, finding the instance, call flags, and turning errors into
 * messages and exit statuses. */
#pragma once

#include "tfstctl.h"

#include "tfst-dbus-generated.h"

#include <gio/gio.h>

#define TFSTCTL_ERROR (tfstctl_error_quark())

/* Errors of tfstctl itself; each code is the exit status it leads to. */
typedef enum {
  TFSTCTL_ERROR_FAILED = TFSTCTL_EXIT_FAILURE,
  TFSTCTL_ERROR_USAGE = TFSTCTL_EXIT_USAGE,
  TFSTCTL_ERROR_NOT_FOUND = TFSTCTL_EXIT_NOT_FOUND,
  TFSTCTL_ERROR_ACCESS_DENIED = TFSTCTL_EXIT_ACCESS_DENIED,
} TfstctlError;

GQuark tfstctl_error_quark(void);

/* The exit status for an error: tfstctl's own code, or the mapping of a
 * D-Bus error name (AccessDenied -> 4, ServiceUnknown -> 3, ...). */
int tfstctl_exit_status(const GError *error);
/* Prints "tfstctl: MESSAGE" to stderr, without the D-Bus error name the
 * message of a remote error starts with, and returns the exit status. */
int tfstctl_fail(GError *error);

/* The options every D-Bus command takes. */
typedef struct {
  char *instance; /* -i ROLE@INSTANCE, NULL: the only one on the bus */
  gboolean json;
  gboolean json_short; /* --json=short */
  gboolean no_legend;
  char *output; /* -o COLUMN,... */
  gboolean no_ask_password;
} TfstctlOptions;

void tfstctl_options_clear(TfstctlOptions *opts);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TfstctlOptions, tfstctl_options_clear)

/* An option context with the command's entries (may be NULL) followed by
 * --instance (when with_instance), --json[=pretty|short|off], --no-legend,
 * -o/--output (unless the command has an -o of its own) and
 * --no-ask-password.  Parsing it configures the output
 * (tfstctl_output_configure()). */
GOptionContext *tfstctl_option_context_new(const char *parameter_string, const char *summary,
                                           const GOptionEntry *entries, TfstctlOptions *opts,
                                           gboolean with_instance);
/* Rewrites argv in place so the options parse as documented ("--json"
 * alone is --json=pretty and never takes the next word); the strings are
 * static or argv's own.  tfstctl_parse_options() calls it. */
void tfstctl_options_prepare_argv(int argc, char **argv);
/* Parses argv; a parse error and more than max_args positional arguments
 * after the command name are TFSTCTL_ERROR_USAGE. */
gboolean tfstctl_parse_options(GOptionContext *ctx, int *argc, char ***argv, int max_args,
                               GError **error);

typedef struct _TfstctlBus TfstctlBus;

/* Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured). */
TfstctlBus *tfstctl_bus_new(const TfstctlOptions *opts, GError **error);
void tfstctl_bus_free(TfstctlBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstctlBus, tfstctl_bus_free)

/* Every instance on the bus as sorted "ROLE@INSTANCE" strings. */
GPtrArray *tfstctl_bus_list_instances(TfstctlBus *bus, GError **error);
/* A proxy, its properties loaded, for the instance "ROLE@INSTANCE" (or a
 * bus name org.tfst.Tfst1.*); with instance NULL, for the only instance on
 * the bus.  An instance that is not on the bus is TFSTCTL_ERROR_NOT_FOUND,
 * several instances and none chosen TFSTCTL_ERROR_USAGE. */
TfstDbusTfst1Instance *tfstctl_bus_get_instance(TfstctlBus *bus, const char *instance,
                                                GError **error);
/* Connects as tfstctl_bus_new() and returns the proxy of the instance
 * opts->instance names as tfstctl_bus_get_instance() does; *ret_bus is
 * written only on success. */
TfstDbusTfst1Instance *tfstctl_bus_open_instance(const TfstctlOptions *opts, TfstctlBus **ret_bus,
                                                 GError **error);
/* A plain proxy (no properties, no signals) for `interface` (e.g.
 * "org.tfst.Tfst1.Ipsec") of the instance chosen as for
 * tfstctl_bus_get_instance(); call it with tfstctl_bus_call_flags() and
 * tfstctl_bus_call_timeout(). */
GDBusProxy *tfstctl_bus_get_interface(TfstctlBus *bus, const char *instance, const char *interface,
                                      GError **error);
/* Calls `method` on a proxy from tfstctl_bus_get_interface() with the
 * call flags and timeout above and returns the first value of the reply,
 * which must have type `reply_type` (a tuple of one value) or is
 * TFSTCTL_ERROR_FAILED naming what came instead. */
GVariant *tfstctl_bus_call(TfstctlBus *bus, GDBusProxy *proxy, const char *method,
                           GVariant *parameters, const char *reply_type, GError **error);
/* The connection, owned by bus (monitor subscribes to signals on it). */
GDBusConnection *tfstctl_bus_connection(TfstctlBus *bus);
/* "ROLE@INSTANCE" of an instance's bus name, NULL for another name. */
char *tfstctl_bus_instance_from_name(const char *bus_name) G_GNUC_WARN_UNUSED_RESULT;
/* Calls `method` of org.freedesktop.systemd1.Manager and returns the
 * reply, or NULL when systemd cannot answer (not running, a private test
 * bus, refused): what systemd knows is an extra, never a failure. */
GVariant *tfstctl_bus_call_systemd(TfstctlBus *bus, const char *method, GVariant *parameters,
                                   const char *reply_type);
/* Asks polkit whether this process's connection to the system bus may do
 * `action`, never interactively: the (bba{ss}) reply of CheckAuthorization
 * (authorized, a password would be asked, details), or NULL with an error
 * when polkit cannot be asked. */
GVariant *tfstctl_bus_check_authorization(TfstctlBus *bus, const char *action, GError **error);
/* "ROLE@INSTANCE" of a proxy, from its bus name. */
char *tfstctl_instance_name(TfstDbusTfst1Instance *proxy);

/* The flags for method calls: ALLOW_INTERACTIVE_AUTHORIZATION when stdin
 * is a terminal and --no-ask-password was not given. */
GDBusCallFlags tfstctl_bus_call_flags(const TfstctlBus *bus);
/* The call timeout in milliseconds: long enough to type a password when
 * interactive authorization is allowed, else the D-Bus default. */
int tfstctl_bus_call_timeout(const TfstctlBus *bus);
/* Before a call that may need an administrator's password: when
 * interactive authorization is allowed, starts pkttyagent so polkit can
 * ask on this terminal (as systemctl does), unless an agent runs already. */
void tfstctl_bus_prepare_auth(TfstctlBus *bus);
