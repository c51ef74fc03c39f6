#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Lists "module.Class.test_method" for every test case in a Python test
file, so meson can run each case as its own test."""
import importlib.util
import os
import sys
import unittest


def main():
    path = sys.argv[1]
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    loader = unittest.TestLoader()
    for obj in vars(mod).values():
        if isinstance(obj, type) and issubclass(obj, unittest.TestCase):
            for case in loader.getTestCaseNames(obj):
                print(f"{name}.{obj.__name__}.{case}")


main()
