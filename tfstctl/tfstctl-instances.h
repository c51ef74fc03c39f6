/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which instances a command is about: the ones on the bus, the configured
 * ones (running or not), and -i PATTERN matching several of them. */
#pragma once

#include "tfstctl-bus.h"

/* Runs a command (argv from its name on) once per instance its -i
 * pattern matches ("relay@*", "*@main": fnmatch-style, as systemctl takes
 * unit patterns), with -i replaced by the instance's name; without a
 * pattern, once as it is.  Text output gets a line naming each instance;
 * JSON prints a document per instance.  Returns the first failing exit
 * status, or 0; no instance matching is exit status 3. */
int tfstctl_instances_run(int (*run)(int argc, char **argv), int argc, char **argv);

/* A pattern rather than a name: contains *, ? or [. */
gboolean tfstctl_instances_is_pattern(const char *instance);

/* The instances configured on this host, sorted "ROLE@INSTANCE" strings:
 * every SYSCONFDIR/tfst/ROLE@INSTANCE.conf (TFST_CONFIG_DIR overrides the
 * directory, as for tfst-generator); an unreadable directory is none. */
GPtrArray *tfstctl_instances_configured(void);
