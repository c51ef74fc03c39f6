/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Hops property (one dictionary per hop) as rows the field
 * descriptions print: the status tables of the parent hops and of the
 * child hops this instance opens, and their JSON. */
#pragma once

#include "tfstctl-fields.h"

#include <glib.h>

/* direction, label, address, port, role, state, since, rtt, reconnects,
 * attempts, last error, next attempt, preference, connect */
#define TFSTCTL_HOPS_ROW "(sssqssttuustub)"

/* A row's JSON (member names as the dictionary keys, with "_" for "-"). */
extern const TfstctlFields tfstctl_hops_desc;

/* hops (aa{sv}, NULL or another type: none) as an array of
 * TFSTCTL_HOPS_ROW in the same order; a missing key or a value of another
 * type reads as "", 0 or false, unknown keys are ignored.  A new
 * reference. */
GVariant *tfstctl_hops_rows(GVariant *hops) G_GNUC_WARN_UNUSED_RESULT;
/* The role ("active", "standby", ...) of the parent hop to `label` among
 * rows, or NULL when there is none; owned by rows. */
const char *tfstctl_hops_parent_role(GVariant *rows, const char *label);
/* Prints a titled table of the parent hops, then one of the child hops
 * this instance connects to; nothing for either when there are none. */
void tfstctl_hops_print_tables(GVariant *rows);
