#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Render the D-Bus introspection XML as Markdown (docs/dbus-api.md).

Every interface, method, signal, property and argument must carry an
org.gtk.GDBus.DocString annotation; a missing one is an error.

  dbus-doc.py --output FILE XML...   write the Markdown
  dbus-doc.py --check FILE XML...    fail (exit 1) if FILE is not up to date
"""

import argparse
import difflib
import sys
import xml.etree.ElementTree as ET

DOC = 'org.gtk.GDBus.DocString'


class MissingDoc(Exception):
    pass


def doc(elem, what):
    for a in elem.findall('annotation'):
        if a.get('name') == DOC:
            text = ' '.join(a.get('value', '').split())
            if text:
                return text
    raise MissingDoc(f'{what}: no {DOC} annotation')


def render_args(args):
    return ', '.join(f'{a.get("type")} {a.get("name")}' for a in args)


def render_interface(iface, out):
    name = iface.get('name')
    out.append(f'## {name}\n')
    out.append(doc(iface, name) + '\n')

    props = iface.findall('property')
    if props:
        out.append('### Properties\n')
        for p in props:
            what = f'{name}.{p.get("name")}'
            out.append(f'- **{p.get("name")}** `{p.get("type")}` ({p.get("access")})  ')
            out.append(f'  {doc(p, what)}\n')

    methods = iface.findall('method')
    if methods:
        out.append('### Methods\n')
        for m in methods:
            what = f'{name}.{m.get("name")}()'
            ins = [a for a in m.findall('arg') if a.get('direction', 'in') == 'in']
            outs = [a for a in m.findall('arg') if a.get('direction') == 'out']
            sig = f'{m.get("name")}({render_args(ins)})'
            if outs:
                sig += f' → ({render_args(outs)})'
            out.append(f'#### {m.get("name")}\n')
            out.append(f'```\n{sig}\n```\n')
            out.append(doc(m, what) + '\n')
            render_arg_list(ins + outs, what, out)

    signals = iface.findall('signal')
    if signals:
        out.append('### Signals\n')
        for s in signals:
            what = f'{name}::{s.get("name")}'
            args = s.findall('arg')
            out.append(f'#### {s.get("name")}\n')
            out.append(f'```\n{s.get("name")}({render_args(args)})\n```\n')
            out.append(doc(s, what) + '\n')
            render_arg_list(args, what, out)


def render_arg_list(args, what, out):
    lines = []
    for a in args:
        if a.get('name') is None:
            raise MissingDoc(f'{what}: an argument has no name')
        direction = a.get('direction')
        tag = f' ({direction})' if direction else ''
        lines.append(f'- `{a.get("name")}` `{a.get("type")}`{tag}: '
                     f'{doc(a, what + " argument " + a.get("name"))}')
    if lines:
        out.append('\n'.join(lines) + '\n')


def render(paths):
    out = [
        '<!-- Generated from dbus/*.xml by dbus/dbus-doc.py: do not edit.\n'
        '     Regenerate with: ninja -C build update-dbus-api-doc -->\n',
        '# tfst D-Bus API\n',
        'Every tfstd instance owns `org.tfst.Tfst1.<role>_<instance>` on the '
        'system bus and serves the interfaces below at `/org/tfst/Tfst1`. '
        'polkit actions: `org.tfst.tfst1.observe` (read), '
        '`org.tfst.tfst1.manage` (sessions, statistics, reload, log level), '
        '`org.tfst.tfst1.tune` (keepalive) and `org.tfst.tfst1.trace` '
        '(packet traces).\n',
    ]
    for path in paths:
        root = ET.parse(path).getroot()
        for iface in root.findall('interface'):
            render_interface(iface, out)
    return '\n'.join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument('--output', metavar='FILE')
    mode.add_argument('--check', metavar='FILE')
    ap.add_argument('xml', nargs='+')
    opts = ap.parse_args()

    try:
        text = render(opts.xml)
    except (MissingDoc, ET.ParseError) as e:
        print(f'dbus-doc: {e}', file=sys.stderr)
        return 1

    if opts.output:
        with open(opts.output, 'w', encoding='utf-8') as f:
            f.write(text)
        return 0

    try:
        with open(opts.check, encoding='utf-8') as f:
            old = f.read()
    except FileNotFoundError:
        old = ''
    if old == text:
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        old.splitlines(True), text.splitlines(True), opts.check, 'generated'))
    print(f'\n{opts.check} is out of date with the XML: run '
          'ninja -C build update-dbus-api-doc', file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
