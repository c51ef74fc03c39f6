/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Trace: named packet traces of one peer (issue 6). */
#pragma once

#include "tfst-authz.h"
#include "tfst-log.h"

#include <gio/gio.h>

/* Sane bounds beyond the contract's per-trace size range: a forgotten
 * trace must not be able to take the host's memory. */
#define TFST_TRACE_MAX_TRACES    16
#define TFST_TRACE_MAX_TOTAL_MIB 256

/* The skeleton owns the traces; finalizing it closes every capture socket.
 * `authz` and `log` must outlive it. */
GDBusInterfaceSkeleton *tfst_trace_interface_new(TfstAuthz *authz, TfstLog *log);
