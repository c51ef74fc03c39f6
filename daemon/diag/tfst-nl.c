/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-nl.h"

#include "tfst-error.h"

#include <netlink/errno.h>
#include <stdlib.h>

static int
code_from_nl(int nlerr)
{
  switch (nlerr) {
    case NLE_OPNOTSUPP:
    case NLE_AF_NOSUPPORT:
    case NLE_PROTO_MISMATCH:
      return TFST_ERROR_NOT_SUPPORTED;
    case NLE_INVAL:
    case NLE_RANGE:
      return TFST_ERROR_INVALID_ARGS;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      return TFST_ERROR_NOT_FOUND;
    default:
      return TFST_ERROR_FAILED;
  }
}

void
tfst_nl_error(GError **error, int nlerr, const char *format, ...)
{
  va_list ap;

  nlerr = abs(nlerr);
  va_start(ap, format);
  tfst_error_set_with_cause(error, code_from_nl(nlerr), nl_geterror(nlerr), format, ap);
  va_end(ap);
}
