/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bus names of instances: org.tfst.Tfst1.<role>_<escaped instance>.
 * The instance is escaped like systemd's bus label escaping (every byte
 * that is not [A-Za-z0-9] becomes _XX in lower-case hex), so any instance
 * name gives a valid bus name and maps back to itself. */
#pragma once

#include <glib.h>

#define TFST_BUS_PREFIX      "org.tfst.Tfst1."
#define TFST_BUS_OBJECT_PATH "/org/tfst/Tfst1"

/* "relay", "2" -> "org.tfst.Tfst1.relay_2" */
char *tfst_bus_name_for(const char *role, const char *instance);
/* Whether instance can name an instance's files: non-empty, not "." or
 * "..", no '/' and no control characters. */
gboolean tfst_bus_name_instance_is_valid(const char *instance);
/* "org.tfst.Tfst1.relay_2" -> role "relay", instance "2"; FALSE when the
 * name is not an instance name or its instance is not valid (above): a
 * bus name is chosen by whoever owns it, and tfstctl builds paths of it. */
gboolean tfst_bus_name_parse(const char *bus_name, char **role, char **instance);
