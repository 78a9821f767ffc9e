"""Throw-away certificate authorities and server certificates for HTTPS fakes, made at test time
with the `openssl` command (Debian package `openssl`; scripts/ensure-test-deps.sh installs it).
EC P-256 keys, valid for two days: a few milliseconds each."""
from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


def _openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    assert binary, "the openssl command is required (scripts/ensure-test-deps.sh installs it)"
    run = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, f"openssl {' '.join(args)}: {run.stderr}"


@dataclass
class CertificateAuthority:
    directory: Path
    name: str

    @property
    def cert(self) -> Path:
        """The CA's certificate (PEM): what a client trusts."""
        return self.directory / f"{self.name}.pem"

    @property
    def key(self) -> Path:
        return self.directory / f"{self.name}.key"

    @classmethod
    def create(cls, directory: Path, name: str) -> "CertificateAuthority":
        ca = cls(directory, name)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(ca.key), "-out", str(ca.cert), "-days", "2", "-subj", f"/CN=UltraGate test {name}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 cwd=directory)
        return ca

    def issue(self, name: str, sans: list[str]) -> tuple[Path, Path]:
        """A server certificate for `sans` (e.g. ["DNS:localhost", "IP:127.0.0.1"]) signed by this
        CA: (certificate, key) paths."""
        key, csr, cert = (self.directory / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
        ext = self.directory / f"{name}.ext"
        ext.write_text(f"subjectAltName={','.join(sans)}\nbasicConstraints=CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                 "-out", str(csr), "-subj", f"/CN={name}", cwd=self.directory)
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-set_serial", "0x" + secrets.token_hex(8), "-days", "2", "-extfile", str(ext), "-out", str(cert),
                 cwd=self.directory)
        return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context presenting `cert`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context
