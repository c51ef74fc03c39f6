/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Answering D-Bus method calls from asynchronous work (see
 * tfst-invocation.h). */
#include "tfst-invocation.h"

#include "tfst-error.h"

void
tfst_invocation_return_task_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  g_autoptr(GError) error = NULL;
  /* A full reference (not floating): returning the value refs it again. */
  g_autoptr(GVariant) reply = g_task_propagate_pointer(G_TASK(result), &error);

  if (reply == NULL)
    g_dbus_method_invocation_return_gerror(invocation, error);
  else if (g_variant_get_size(reply) > TFST_DBUS_REPLY_MAX)
    /* The last line of defence for lists that grow with what peers and
     * the host do (statistics, SAs, sockets): sent, such a reply would make
     * the bus drop the instance's connection. */
    g_dbus_method_invocation_return_error(
        invocation, TFST_ERROR, TFST_ERROR_FAILED,
        "the reply would take %" G_GSIZE_FORMAT " bytes, more than the %d MiB one reply may carry",
        g_variant_get_size(reply), TFST_DBUS_REPLY_MAX / (1024 * 1024));
  else
    g_dbus_method_invocation_return_value(invocation, reply);
}
