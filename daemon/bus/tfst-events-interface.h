/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Events: the event sinks of the instance (docs/events.md),
 * their counters and spool, and pushing their events now. */
#pragma once

#include "tfst-authz.h"
#include "tfst-engine.h"

/* The interface, its state owned by the returned skeleton; `engine`
 * must outlive it. */
GDBusInterfaceSkeleton *tfst_events_interface_new(TfstAuthz *authz, TfstEngine *engine);
