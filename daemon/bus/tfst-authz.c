/* SPDX-License-Identifier: GPL-2.0-or-later */
/* polkit checks for the bus API (see tfst-authz.h). */
#include "tfst-authz.h"

#include <polkit/polkit.h>

struct TfstAuthz {
  PolkitAuthority *authority; /* NULL until the first non-root call */
};

typedef struct {
  TfstAuthz *authz;
  GDBusMethodInvocation *invocation;
  char *action;
  TfstAuthorizedFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} TfstAuthzCheck;

static void
check_free(TfstAuthzCheck *c)
{
  if (c->destroy != NULL && c->user_data != NULL)
    c->destroy(c->user_data);
  g_object_unref(c->invocation);
  g_free(c->action);
  g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstAuthzCheck, check_free)

TfstAuthz *
tfst_authz_new(void)
{
  return g_new0(TfstAuthz, 1);
}

void
tfst_authz_reset(TfstAuthz *authz)
{
  g_clear_object(&authz->authority);
}

void
tfst_authz_free(TfstAuthz *authz)
{
  tfst_authz_reset(authz);
  g_free(authz);
}

static void
deny(TfstAuthzCheck *c, const char *why)
{
  g_dbus_method_invocation_return_dbus_error(c->invocation,
                                             "org.freedesktop.DBus.Error.AccessDenied", why);
}

static void
grant(TfstAuthzCheck *c)
{
  c->func(c->invocation, c->user_data);
}

static void
checked_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(TfstAuthzCheck) c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthorizationResult) result =
      polkit_authority_check_authorization_finish(POLKIT_AUTHORITY(source), res, &error);
  g_autofree char *why = NULL;

  if (result == NULL) {
    g_dbus_error_strip_remote_error(error);
    why = g_strdup_printf("Not authorized for %s: polkit could not be asked: %s", c->action,
                          error->message);
  } else if (polkit_authorization_result_get_is_authorized(result)) {
    grant(c);
    return;
  } else if (polkit_authorization_result_get_is_challenge(result)) {
    why = g_strdup_printf("Not authorized for %s: authentication is required; call with "
                          "interactive authorization allowed",
                          c->action);
  } else {
    why = g_strdup_printf("Not authorized for %s", c->action);
  }
  deny(c, why);
}

static void
ask_polkit(TfstAuthzCheck *c)
{
  GDBusMessage *msg = g_dbus_method_invocation_get_message(c->invocation);
  g_autoptr(PolkitSubject) subject =
      polkit_system_bus_name_new(g_dbus_method_invocation_get_sender(c->invocation));
  PolkitCheckAuthorizationFlags flags = POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE;

  /* Ask for a password only when the caller said it can wait for one. */
  if (g_dbus_message_get_flags(msg) & G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION)
    flags |= POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION;
  polkit_authority_check_authorization(c->authz->authority, subject, c->action, NULL, flags, NULL,
                                       checked_cb, c);
}

static void
authority_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  TfstAuthzCheck *c = data;
  g_autoptr(GError) error = NULL;
  PolkitAuthority *authority = polkit_authority_get_finish(res, &error);

  if (authority == NULL) {
    g_dbus_error_strip_remote_error(error);
    g_autofree char *why = g_strdup_printf("Not authorized for %s: polkit is not available: %s",
                                           c->action, error->message);
    deny(c, why);
    check_free(c);
    return;
  }
  if (c->authz->authority == NULL)
    c->authz->authority = g_object_ref(authority);
  g_object_unref(authority);
  ask_polkit(c);
}

static void
caller_uid_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  TfstAuthzCheck *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
  guint32 uid = G_MAXUINT32;

  if (reply != NULL)
    g_variant_get(reply, "(u)", &uid);
  if (uid == 0) {
    grant(c);
    check_free(c);
  } else if (c->authz->authority != NULL) {
    ask_polkit(c);
  } else {
    polkit_authority_get_async(NULL, authority_cb, c);
  }
}

void
tfst_authz_check(TfstAuthz *authz, GDBusMethodInvocation *invocation, const char *action,
                 TfstAuthorizedFunc func, gpointer user_data, GDestroyNotify destroy)
{
  TfstAuthzCheck *c = g_new0(TfstAuthzCheck, 1);

  c->authz = authz;
  c->invocation = g_object_ref(invocation);
  c->action = g_strdup(action);
  c->func = func;
  c->user_data = user_data;
  c->destroy = destroy;
  g_dbus_connection_call(g_dbus_method_invocation_get_connection(invocation),
                         "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                         "GetConnectionUnixUser",
                         g_variant_new("(s)", g_dbus_method_invocation_get_sender(invocation)),
                         G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, caller_uid_cb, c);
}

typedef struct {
  TfstAuthz *authz;
  const TfstAuthzMethod *methods;
  gsize n_methods;
  gpointer user_data;
} TfstAuthzDispatch;

/* polkit answers asynchronously, so the skeleton's own dispatch is declined
 * (FALSE) and the method runs, or is denied, once polkit has answered.  The
 * invocation's reference passes on to whoever answers it. */
static gboolean
authorize_method_cb(GDBusInterfaceSkeleton *skel, GDBusMethodInvocation *invocation, gpointer data)
{
  TfstAuthzDispatch *d = data;
  const char *method = g_dbus_method_invocation_get_method_name(invocation);

  for (gsize i = 0; i < d->n_methods; i++)
    if (g_str_equal(d->methods[i].method, method)) {
      tfst_authz_check(d->authz, invocation, d->methods[i].action, d->methods[i].run, d->user_data,
                       NULL);
      return FALSE;
    }
  g_dbus_method_invocation_return_error(invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                        "unknown method %s", method);
  return FALSE;
}

void
tfst_authz_dispatch(TfstAuthz *authz, GDBusInterfaceSkeleton *skeleton,
                    const TfstAuthzMethod *methods, gsize n_methods, gpointer user_data)
{
  TfstAuthzDispatch *d = g_new0(TfstAuthzDispatch, 1);

  d->authz = authz;
  d->methods = methods;
  d->n_methods = n_methods;
  d->user_data = user_data;
  g_signal_connect_data(skeleton, "g-authorize-method", G_CALLBACK(authorize_method_cb), d,
                        (GClosureNotify)(void (*)(void))g_free, 0);
}
