# SPDX-License-Identifier: GPL-2.0-or-later
"""Deterministic pseudo-random payloads and their digests, so that both
ends of a transfer can check it without keeping the bytes."""

import hashlib
import random

from .env import KIB


def stream_chunks(n, seed, chunk=64 * KIB):
    """Deterministic pseudo-random bytes, n in total, in chunks."""
    rnd = random.Random(seed)
    left = n
    while left > 0:
        k = min(chunk, left)
        yield rnd.randbytes(k)
        left -= k


def stream_sha(n, seed):
    h = hashlib.sha256()
    for c in stream_chunks(n, seed):
        h.update(c)
    return h.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()
