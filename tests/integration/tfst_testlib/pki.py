# SPDX-License-Identifier: GPL-2.0-or-later
"""Certificates for TLS on the hops, made at test time with certtool (a CA
and component certificates naming labels), and the TLS keys of a
[Parent] or [Children] section that uses them."""

import os
import shutil
import subprocess

CERTTOOL = shutil.which("certtool")


class Pki:
    """A CA and component certificates made with certtool in `dirpath`."""

    def __init__(self, dirpath, name="ca", cn="tfst test CA"):
        self.dir = dirpath
        os.makedirs(dirpath, exist_ok=True)
        self.ca_key = self._key(name)
        self.ca = os.path.join(dirpath, f"{name}.pem")
        self._certtool("--generate-self-signed", "--load-privkey", self.ca_key,
                       "--template", self._template(name, f'cn = "{cn}"\nca\ncert_signing_key\n'
                                                    "expiration_days = 30\n"),
                       "--outfile", self.ca)

    def _certtool(self, *args):
        r = subprocess.run([CERTTOOL, *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"certtool {' '.join(args)}: {r.stderr}")
        return r.stdout

    def _key(self, name):
        path = os.path.join(self.dir, f"{name}.key")
        if not os.path.exists(path):
            self._certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", path)
        return path

    def _template(self, name, text):
        path = os.path.join(self.dir, f"{name}.tmpl")
        with open(path, "w") as f:
            f.write(text)
        return path

    def issue(self, name, labels, cn=None, uri=False, expired=False, days=30):
        """Certificate `name`.pem / .key naming `labels` as dNSName (or as
        URI tfst:label:LABEL)."""
        lines = [f'cn = "{cn or name}"']
        for label in labels:
            lines.append(f'uri = "tfst:label:{label}"' if uri else f'dns_name = "{label}"')
        lines += ["tls_www_server", "tls_www_client", "signing_key", "encryption_key"]
        if expired:
            lines += ['activation_date = "2020-01-01 00:00:00"',
                      'expiration_date = "2020-02-01 00:00:00"']
        else:
            lines.append(f"expiration_days = {days}")
        key = self._key(name)
        cert = os.path.join(self.dir, f"{name}.pem")
        self._certtool("--generate-certificate", "--load-privkey", key,
                       "--load-ca-certificate", self.ca, "--load-ca-privkey", self.ca_key,
                       "--template", self._template(name, "\n".join(lines) + "\n"),
                       "--outfile", cert)
        return cert, key


def tls_section(cert, key, ca, extra=""):
    return (f"TLS=yes\nCertificate={cert}\nKey={key}\nTrustedCA={ca}\n"
            f"HandshakeTimeout=3s\n{extra}")
