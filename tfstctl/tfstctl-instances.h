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

/* Runs a command that names something of one instance (close: session ids
 * are per instance): -i PATTERN is bad usage (exit status 2). */
int tfstctl_instances_run_one(int (*run)(int argc, char **argv), int argc, char **argv);
