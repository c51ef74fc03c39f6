/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel's port settings (see tfst-port-sysctl.h). */
#include "tfst-port-sysctl.h"
#include "tfst-error.h"

#define SYSCTL_DIR           "/proc/sys/net/ipv4"
#define DEFAULT_UNPRIVILEGED 1024 /* before Linux 4.11 it was fixed */

void
tfst_port_sysctl_free(TfstPortSysctl *sysctl)
{
  if (sysctl == NULL)
    return;
  g_clear_pointer(&sysctl->reserved, g_array_unref);
  g_free(sysctl);
}

/* Contents of dir/name; NULL without error when the file does not exist
 * (older kernels lack some of the settings). */
static char *
read_setting(const char *dir, const char *name, GError **error)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) local = NULL;
  char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, &local)) {
    if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  return text;
}

/* ip_local_port_range: required. */
static gboolean
load_ephemeral(const char *dir, TfstPortRange *out_range, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *text = read_setting(dir, "ip_local_port_range", &local);

  if (text == NULL && local == NULL)
    g_set_error(&local, TFST_ERROR, TFST_ERROR_NOT_FOUND, "%s/ip_local_port_range is missing", dir);
  if (local != NULL || !tfst_port_range_parse(text, out_range, &local)) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  return TRUE;
}

/* ip_local_reserved_ports: a missing file is an empty list. */
static GArray *
load_reserved(const char *dir, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *text = read_setting(dir, "ip_local_reserved_ports", &local);

  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  return tfst_port_list_parse(text != NULL ? text : "", error);
}

/* ip_unprivileged_port_start: missing before Linux 4.11, where the limit
 * was fixed. */
static gboolean
load_unprivileged_start(const char *dir, guint *out_start, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *text = read_setting(dir, "ip_unprivileged_port_start", &local);
  guint64 v = DEFAULT_UNPRIVILEGED;

  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (text != NULL &&
      !g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, G_MAXUINT16 + 1, &v, error)) {
    g_prefix_error(error, "%s/ip_unprivileged_port_start: ", dir);
    return FALSE;
  }
  *out_start = (guint)v;
  return TRUE;
}

TfstPortSysctl *
tfst_port_sysctl_load(const char *dir, GError **error)
{
  g_autoptr(TfstPortSysctl) s = g_new0(TfstPortSysctl, 1);

  if (dir == NULL)
    dir = SYSCTL_DIR;
  if (!load_ephemeral(dir, &s->ephemeral, error))
    return NULL;
  s->reserved = load_reserved(dir, error);
  if (s->reserved == NULL || !load_unprivileged_start(dir, &s->unprivileged_start, error))
    return NULL;
  return g_steal_pointer(&s);
}

gboolean
tfst_port_sysctl_is_ephemeral(const TfstPortSysctl *sysctl, guint16 port)
{
  return port >= sysctl->ephemeral.lo && port <= sysctl->ephemeral.hi;
}

gboolean
tfst_port_sysctl_is_reserved(const TfstPortSysctl *sysctl, guint16 port)
{
  return tfst_port_list_contains(sysctl->reserved, port);
}

TfstPortSysctl *
tfst_port_sysctl_new_unknown(void)
{
  TfstPortSysctl *s = g_new0(TfstPortSysctl, 1);

  /* No ephemeral range (lo above hi), nothing reserved, the classic
   * privileged limit. */
  s->ephemeral = (TfstPortRange){1, 0};
  s->reserved = g_array_new(FALSE, FALSE, sizeof(TfstPortRange));
  s->unprivileged_start = DEFAULT_UNPRIVILEGED;
  return s;
}
