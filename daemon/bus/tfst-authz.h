/* SPDX-License-Identifier: GPL-2.0-or-later */
/* polkit authorization of D-Bus method calls.  Callers with uid 0 pass
 * without asking polkit; everything else is denied unless polkit says yes,
 * including when polkit cannot be reached. */
#pragma once

#include <gio/gio.h>

#define TFST_ACTION_OBSERVE "org.tfst.tfst1.observe"
#define TFST_ACTION_MANAGE  "org.tfst.tfst1.manage"
#define TFST_ACTION_TUNE    "org.tfst.tfst1.tune"
#define TFST_ACTION_TRACE   "org.tfst.tfst1.trace"

typedef struct TfstAuthz TfstAuthz;

/* Runs only for an authorized caller; it answers the invocation. */
typedef void (*TfstAuthorizedFunc)(GDBusMethodInvocation *invocation, gpointer user_data);

TfstAuthz *tfst_authz_new(void);
void tfst_authz_free(TfstAuthz *authz);
/* The bus went away: the next check talks to polkit afresh. */
void tfst_authz_reset(TfstAuthz *authz);
/* Checks `action` for the caller of `invocation`: calls `func`, or answers
 * org.freedesktop.DBus.Error.AccessDenied naming the action.  `user_data`
 * is freed with `destroy` either way. */
void tfst_authz_check(TfstAuthz *authz, GDBusMethodInvocation *invocation, const char *action,
                      TfstAuthorizedFunc func, gpointer user_data, GDestroyNotify destroy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstAuthz, tfst_authz_free)

/* Which polkit action guards which method of an interface. */
typedef struct {
  const char *method;
  const char *action;
  TfstAuthorizedFunc run;
} TfstAuthzMethod;

/* Dispatches every call on `skeleton` through tfst_authz_check(): the
 * method found in `methods` (n_methods rows) runs with `user_data` once
 * polkit has said yes.  The table must outlive the skeleton. */
void tfst_authz_dispatch(TfstAuthz *authz, GDBusInterfaceSkeleton *skeleton,
                         const TfstAuthzMethod *methods, gsize n_methods, gpointer user_data);
