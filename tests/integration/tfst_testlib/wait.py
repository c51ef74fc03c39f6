# SPDX-License-Identifier: GPL-2.0-or-later
"""Bounded polling: every wait in the suite ends, with a message naming
what it waited for."""

import time


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value, which is returned; raises
    AssertionError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # the condition may raise while things settle
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)
