/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Operator-ready text explaining why a bind failed.  Reads /proc and dumps
 * sockets synchronously (tfst-port-owners.h): for startup and the data
 * plane's rare bind failures, never a main-context callback. */
#pragma once

#include "tfst-addr.h"
#include "tfst-port-sysctl.h"

/* Operator-ready explanation of bind(addr) failing with err (an errno):
 * the port in decimal, the cause (EADDRINUSE: who holds it; EACCES:
 * privileged port or policy; EADDRNOTAVAIL: address not on this host) and
 * the fix, plus a warning when the port lies in the ephemeral range and is
 * not reserved.  Not translated: it goes to the journal.  Never NULL. */
char *tfst_bind_diagnosis(const TfstSockAddr *addr, int err) G_GNUC_WARN_UNUSED_RESULT;
/* The same with given sysctl values (NULL: read them). */
char *tfst_bind_diagnosis_full(const TfstSockAddr *addr, int err,
                               const TfstPortSysctl *sysctl) G_GNUC_WARN_UNUSED_RESULT;
/* Appends "; <diagnosis>" to (*error)->message; no-op when error or *error is NULL. */
void tfst_bind_diagnosis_add_to_error(GError **error, const TfstSockAddr *addr, int err);
