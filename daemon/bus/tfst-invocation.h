/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Answering D-Bus method calls from asynchronous work. */
#pragma once

#include <gio/gio.h>

/* The largest reply a method builds: the system bus refuses a message
 * above 32 MiB (and drops the connection that sent it, the instance's),
 * so lists that grow with traffic stop well short of that and fail with
 * advice instead (narrow the filter, export the trace). */
#define TFST_DBUS_REPLY_MAX (16 * 1024 * 1024)

/* A GAsyncReadyCallback for a GTask (an engine query, a worker thread)
 * whose result is the method's reply tuple (a GVariant reference, not
 * floating) or an error: answers
 * `user_data`, a GDBusMethodInvocation, taking its reference.  A reply
 * larger than TFST_DBUS_REPLY_MAX is answered with an error instead. */
void tfst_invocation_return_task_cb(GObject *source, GAsyncResult *result, gpointer user_data);
