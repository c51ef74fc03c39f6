#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs one unittest case for meson and maps the outcome to meson's exit
codes: 0 passed, 1 failed, 77 skipped (printing "SKIP: reason"), so a
skipped test is never counted as passed."""
import os
import sys
import unittest


def main():
    name = sys.argv[1]
    # Like `python3 -m unittest`: test modules come from the working directory.
    sys.path.insert(0, os.getcwd())
    suite = unittest.defaultTestLoader.loadTestsFromName(name)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    if not result.wasSuccessful():
        sys.exit(1)
    # A skip in setUpClass shows up as a skipped entry without a run test.
    if result.skipped and len(result.skipped) >= result.testsRun:
        for _, reason in result.skipped:
            print(f"SKIP: {reason}")
        sys.exit(77)
    sys.exit(0)


main()
