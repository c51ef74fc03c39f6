/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event sinks of an instance (org.tfst.Tfst1.Events GetSinks(), one
 * dictionary per sink) as rows the field descriptions print: a record per
 * sink for people, a JSON array for scripts. */
#pragma once

#include "tfstctl-fields.h"

#include <glib.h>

/* name, role, origin (at a relay), path, listen, target, target state, target error, received,
 * spooled, forwarded, resent, acknowledged, delivered, duplicates,
 * dropped, malformed, spool bytes, spool events, spool capacity, oldest
 * unacknowledged age, far end status, connections, and a bit mask of the
 * members the dictionary had (bit n: member n). */
#define TFSTCTL_SINKS_ROW "(ssssassssttttttta{st}a{st}ttttsut)"

/* sinks (aa{sv}, NULL or another type: none) as an array of
 * TFSTCTL_SINKS_ROW in the same order; a missing key or a value of another
 * type reads as "", 0 or empty (and its bit stays clear), unknown keys are
 * ignored.  A new reference. */
GVariant *tfstctl_sinks_rows(GVariant *sinks) G_GNUC_WARN_UNUSED_RESULT;
/* The rows whose name is `name` (NULL: all).  A new reference. */
GVariant *tfstctl_sinks_select(GVariant *rows, const char *name) G_GNUC_WARN_UNUSED_RESULT;
/* The rows as a JSON array of objects: every member, "" or 0 where the
 * sink had no such key; listen an array, dropped and malformed objects of
 * reason to count. */
JsonArray *tfstctl_sinks_json(GVariant *rows);
/* A titled record per sink ("none" alone when there are none); only
 * what applies to the sink's role is shown. */
void tfstctl_sinks_print(GVariant *rows);
/* "12.3 MiB of 256 MiB (4.8 %)" */
char *tfstctl_sinks_format_spool(guint64 used, guint64 capacity);
/* Microseconds as "0.4s", "42s", "3m 05s", "2h 01m"; "none" for 0. */
char *tfstctl_sinks_format_age(guint64 usec);
