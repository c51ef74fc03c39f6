/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Answering D-Bus method calls from asynchronous work. */
#pragma once

#include "tfst-engine.h" /* TFST_DBUS_REPLY_MAX */

#include <gio/gio.h>

/* A GAsyncReadyCallback for a GTask (an engine query, a worker thread)
 * whose result is the method's reply tuple (a GVariant reference, not
 * floating) or an error: answers
 * `user_data`, a GDBusMethodInvocation, taking its reference.  A reply
 * larger than TFST_DBUS_REPLY_MAX is answered with an error instead. */
void tfst_invocation_return_task_cb(GObject *source, GAsyncResult *result, gpointer user_data);
