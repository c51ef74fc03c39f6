/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Keepalive: keepalive settings of hops and sessions, read
 * and changed live, and the audit of every TCP connection of the
 * instance. */
#pragma once

#include "tfst-authz.h"
#include "tfst-config.h"
#include "tfst-engine.h"

/* The interface, its state owned by the returned skeleton; `engine`
 * must outlive it. */
GDBusInterfaceSkeleton *tfst_keepalive_interface_new(TfstAuthz *authz, TfstEngine *engine,
                                                     const TfstConfig *config);
