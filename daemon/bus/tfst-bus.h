/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The instance on the system bus: connection, name and exported objects.
 * The bus is control only: without it the instance forwards as usual, and
 * it registers again whenever the bus comes back. */
#pragma once

#include "tfst-authz.h"
#include "tfst-log.h"

#include <gio/gio.h>

typedef struct TfstBus TfstBus;

TfstBus *tfst_bus_new(const char *bus_name, TfstLog *log, TfstAuthz *authz);
/* Exported at /org/tfst/Tfst1 whenever connected; the bus keeps a ref. */
void tfst_bus_add_interface(TfstBus *bus, GDBusInterfaceSkeleton *skeleton);
/* The same at `object_path` (org.freedesktop.LogControl1's). */
void tfst_bus_add_interface_at(TfstBus *bus, GDBusInterfaceSkeleton *skeleton,
                               const char *object_path);
/* Connects; `settled` runs once, when the name is owned or the first
 * attempt failed (whatever comes first), so READY=1 can follow it. */
void tfst_bus_start(TfstBus *bus, GSourceFunc settled, gpointer user_data);
void tfst_bus_free(TfstBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstBus, tfst_bus_free)
