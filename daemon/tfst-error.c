#include "tfst-error.h"

#include <netlink/errno.h>
#include <stdlib.h>
#include <string.h>

static const GDBusErrorEntry tfst_error_entries[] = {
    {TFST_ERROR_FAILED, "org.tfst.Tfst1.Error.Failed"},
    {TFST_ERROR_CONFIG, "org.tfst.Tfst1.Error.Config"},
    {TFST_ERROR_PROTOCOL, "org.tfst.Tfst1.Error.Protocol"},
    {TFST_ERROR_ADDRESS, "org.tfst.Tfst1.Error.Address"},
    {TFST_ERROR_BIND, "org.tfst.Tfst1.Error.Bind"},
    {TFST_ERROR_CONNECT, "org.tfst.Tfst1.Error.Connect"},
    {TFST_ERROR_NOT_SUPPORTED, "org.tfst.Tfst1.Error.NotSupported"},
    {TFST_ERROR_INVALID_ARGS, "org.tfst.Tfst1.Error.InvalidArgs"},
    {TFST_ERROR_NOT_FOUND, "org.tfst.Tfst1.Error.NotFound"},
};

GQuark
tfst_error_quark(void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain("tfst-error-quark", &quark, tfst_error_entries,
                                     G_N_ELEMENTS(tfst_error_entries));
  return (GQuark)quark;
}

void
tfst_error_from_errno(GError **error, int errnum, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;
  int code;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  switch (errnum) {
    case EADDRINUSE:
    case EACCES:
    case EADDRNOTAVAIL:
      code = TFST_ERROR_BIND;
      break;
    case ECONNREFUSED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
      code = TFST_ERROR_CONNECT;
      break;
    case EINVAL:
      code = TFST_ERROR_INVALID_ARGS;
      break;
    default:
      code = TFST_ERROR_FAILED;
  }
  g_set_error(error, TFST_ERROR, code, "%s: %s", msg, g_strerror(errnum));
}

void
tfst_error_from_nl(GError **error, int nlerr, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;
  int code;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  nlerr = abs(nlerr);
  switch (nlerr) {
    case NLE_OPNOTSUPP:
    case NLE_AF_NOSUPPORT:
    case NLE_PROTO_MISMATCH:
      code = TFST_ERROR_NOT_SUPPORTED;
      break;
    case NLE_INVAL:
    case NLE_RANGE:
      code = TFST_ERROR_INVALID_ARGS;
      break;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      code = TFST_ERROR_NOT_FOUND;
      break;
    default:
      code = TFST_ERROR_FAILED;
  }
  g_set_error(error, TFST_ERROR, code, "%s: %s", msg, nl_geterror(nlerr));
}
