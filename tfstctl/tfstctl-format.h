/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Values as people read them in tables (JSON keeps the exact numbers). */
#pragma once

#include <glib.h>

/* A CLOCK_REALTIME point in microseconds as local time and how long ago
 * (or how soon), as systemctl status writes it:
 * "2026-12-03 08:00:00 UTC; 3min 12s ago"; "never" for 0. */
char *tfstctl_format_time(guint64 usec);
/* Only the relative part, for table cells: "3min 12s ago", "in 5s", "now";
 * "-" for 0. */
char *tfstctl_format_time_relative(guint64 usec);
/* A duration in microseconds as people read it, the two largest units:
 * "2d 3h", "1h 5min", "3min 12s", "12s", "450ms", "0s". */
char *tfstctl_format_duration(guint64 usec);
/* 1536 -> "1.5 KiB" */
char *tfstctl_format_bytes(guint64 bytes);
/* bytes per second over an interval -> "1.5 KiB/s" */
char *tfstctl_format_rate(guint64 bytes, guint seconds);
/* A duration in microseconds as tfstctl_format_duration(), in whole
 * seconds: "2min 5s". */
char *tfstctl_format_seconds(guint64 usec);
/* A round trip time in microseconds as "0.4 ms", or "-" when unknown (0). */
char *tfstctl_format_rtt(guint64 usec);
/* "192.0.2.1", 1918 -> "192.0.2.1:1918"; IPv6 in brackets. */
char *tfstctl_format_endpoint(const char *address, guint16 port);
