/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Instance bus names (see tfst-bus-name.h). */
#include "tfst-bus-name.h"

#include <string.h>

static char *
label_escape(const char *s)
{
  GString *out = g_string_sized_new(strlen(s) + 8);

  if (*s == '\0')
    return g_string_free(g_string_append_c(out, '_'), FALSE);
  for (const char *p = s; *p; p++) {
    if (g_ascii_isalnum(*p))
      g_string_append_c(out, *p);
    else
      g_string_append_printf(out, "_%02x", (guint8)*p);
  }
  return g_string_free(out, FALSE);
}

/* One _XX escape at p, or -1. */
static int
unescape_byte(const char *p)
{
  if (p[0] != '_' || !g_ascii_isxdigit(p[1]) || !g_ascii_isxdigit(p[2]))
    return -1;
  return g_ascii_xdigit_value(p[1]) << 4 | g_ascii_xdigit_value(p[2]);
}

static char *
label_unescape(const char *s)
{
  g_autoptr(GString) out = g_string_sized_new(strlen(s));

  if (g_str_equal(s, "_"))
    return g_string_free(g_steal_pointer(&out), FALSE);
  for (const char *p = s; *p; p++) {
    int byte = g_ascii_isalnum(*p) ? *p : unescape_byte(p);

    if (byte <= 0) /* not an escape, or a NUL that would cut the name */
      return NULL;
    g_string_append_c(out, (char)byte);
    if (*p == '_')
      p += 2;
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

gboolean
tfst_bus_name_instance_is_valid(const char *instance)
{
  if (*instance == '\0' || g_str_equal(instance, ".") || g_str_equal(instance, ".."))
    return FALSE;
  for (const char *p = instance; *p; p++)
    if (*p == '/' || g_ascii_iscntrl(*p))
      return FALSE;
  return TRUE;
}

char *
tfst_bus_name_for(const char *role, const char *instance)
{
  g_autofree char *escaped = label_escape(instance);

  return g_strconcat(TFST_BUS_PREFIX, role, "_", escaped, NULL);
}

gboolean
tfst_bus_name_parse(const char *bus_name, char **role, char **instance)
{
  const char *rest, *sep;
  char *inst;

  if (!g_str_has_prefix(bus_name, TFST_BUS_PREFIX))
    return FALSE;
  rest = bus_name + strlen(TFST_BUS_PREFIX);
  sep = strchr(rest, '_');
  if (sep == NULL || sep == rest || strchr(rest, '.') != NULL)
    return FALSE;
  inst = label_unescape(sep + 1);
  /* The instance names paths (tfstctl collect runs as root) and anyone
   * allowed to own an instance name can choose it: only names that a
   * configuration file could have. */
  if (inst == NULL || !tfst_bus_name_instance_is_valid(inst)) {
    g_free(inst);
    return FALSE;
  }
  *role = g_strndup(rest, (gsize)(sep - rest));
  *instance = inst;
  return TRUE;
}
