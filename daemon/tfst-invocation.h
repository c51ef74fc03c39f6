/* Answering D-Bus method calls from asynchronous work. */
#pragma once

#include <gio/gio.h>

/* A GAsyncReadyCallback for a GTask (an engine query, a worker thread)
 * whose result is the method's reply tuple (a GVariant reference, not
 * floating) or an error: answers
 * `user_data`, a GDBusMethodInvocation, taking its reference. */
void tfst_invocation_return_task(GObject *source, GAsyncResult *result, gpointer user_data);
