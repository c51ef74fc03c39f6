/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bus policy test helper: connects to the bus at ADDRESS, exports an
 * org.tfst.Tfst1.Instance skeleton at /org/tfst/Tfst1 and asks for NAME.
 * Prints "acquired" and serves until stdin reaches EOF, or prints "lost" and
 * exits with status 3 when the bus refuses the name.  Used by
 * test-bus-policy.py; it also links the generated code (tfst_dbus_dep). */

#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>
#include <unistd.h>

#include "tfst-dbus-generated.h"

typedef struct {
  GMainLoop *loop;
  int status;
} Helper;

static void
name_acquired_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  printf("acquired\n");
  fflush(stdout);
}

static void
name_lost_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  Helper *helper = user_data;

  printf("lost\n");
  fflush(stdout);
  helper->status = 3;
  g_main_loop_quit(helper->loop);
}

static gboolean
stdin_cb(int fd, GIOCondition condition, gpointer user_data)
{
  Helper *helper = user_data;
  char buf[64];

  if (read(fd, buf, sizeof(buf)) > 0)
    return G_SOURCE_CONTINUE;
  g_main_loop_quit(helper->loop);
  return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(TfstDbusTfst1Instance) instance = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  Helper helper = {0};
  guint owner_id;

  if (argc != 3) {
    fprintf(stderr, "usage: %s ADDRESS NAME\n", argv[0]);
    return 2;
  }

  connection =
      g_dbus_connection_new_for_address_sync(argv[1],
                                             G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                             NULL, NULL, &error);
  if (connection == NULL) {
    fprintf(stderr, "cannot connect to %s: %s\n", argv[1], error->message);
    return 2;
  }

  instance = tfst_dbus_tfst1_instance_skeleton_new();
  tfst_dbus_tfst1_instance_set_role(instance, "relay");
  tfst_dbus_tfst1_instance_set_instance(instance, "2");
  if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(instance), connection,
                                        "/org/tfst/Tfst1", &error)) {
    fprintf(stderr, "cannot export: %s\n", error->message);
    return 2;
  }

  loop = g_main_loop_new(NULL, FALSE);
  helper.loop = loop;
  g_unix_fd_add(0, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_cb, &helper);
  owner_id = g_bus_own_name_on_connection(connection, argv[2], G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                          name_acquired_cb, name_lost_cb, &helper, NULL);
  g_main_loop_run(loop);
  g_bus_unown_name(owner_id);
  g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(instance));
  return helper.status;
}
