/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.freedesktop.LogControl1 at /org/freedesktop/LogControl1 on the
 * instance's bus name: what `systemctl service-log-level` and
 * `service-log-target` read and write (the unit names the bus name with
 * BusName=).  LogLevel takes the syslog names (emerg ... debug), LogTarget
 * auto, journal, console or null; SyslogIdentifier is read-only.  Reading
 * needs nothing, writing the polkit action org.tfst.tfst1.manage, as
 * SetLogLevel on the Instance interface. */
#pragma once

#include "tfst-authz.h"
#include "tfst-log.h"

#include <gio/gio.h>

#define TFST_LOGCONTROL_OBJECT_PATH "/org/freedesktop/LogControl1"

#define TFST_TYPE_LOGCONTROL_INTERFACE (tfst_logcontrol_interface_get_type())
G_DECLARE_FINAL_TYPE(TfstLogcontrolInterface, tfst_logcontrol_interface, TFST, LOGCONTROL_INTERFACE,
                     GDBusInterfaceSkeleton)

/* Called after a caller changed the level or the target. */
typedef void (*TfstLogcontrolChangedFunc)(gpointer user_data);

/* `authz` and `log` must outlive the skeleton. */
TfstLogcontrolInterface *tfst_logcontrol_interface_new(TfstAuthz *authz, TfstLog *log,
                                                       TfstLogcontrolChangedFunc changed,
                                                       gpointer changed_data);
