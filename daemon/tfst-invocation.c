/* Answering D-Bus method calls from asynchronous work (see
 * tfst-invocation.h). */
#include "tfst-invocation.h"

void
tfst_invocation_return_task(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  g_autoptr(GError) error = NULL;
  /* A full reference (not floating): returning the value refs it again. */
  g_autoptr(GVariant) reply = g_task_propagate_pointer(G_TASK(result), &error);

  if (reply == NULL)
    g_dbus_method_invocation_return_gerror(invocation, error);
  else
    g_dbus_method_invocation_return_value(invocation, reply);
}
