"""A real RFC 3161 timestamp authority on loopback: OpenSSL's `openssl ts -reply` behind a tiny HTTP server.

tsa = start_tsa(tmp_path)   # makes a CA and a TSA certificate (extendedKeyUsage timeStamping)
... TIMESTAMP_AUTHORITY_URL = tsa.url; the CA to verify with is tsa.ca_pem ...
tsa.stop()
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = """
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
certs = {dir}/ca.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

[ v3_tsa ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass
class LocalTsa:
    url: str
    ca_pem: Path
    server: ThreadingHTTPServer
    requests: list[bytes]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_tsa(directory: Path) -> LocalTsa:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "tsa.cnf"
    config.write_text(CONFIG.format(dir=directory))
    (directory / "serial").write_text("01\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "30", "-subj", "/CN=tfdash test TSA CA", cwd=directory)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", "/CN=tfdash test TSA", cwd=directory)  # fmt: skip
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tsa.pem", "-days", "30", "-extfile", "tsa.cnf", "-extensions", "v3_tsa", cwd=directory)  # fmt: skip
    received: list[bytes] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(query)
            with lock, tempfile.TemporaryDirectory() as work:
                (Path(work) / "q.tsq").write_bytes(query)
                done = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(config), "-queryfile", "q.tsq", "-out", "r.tsr"],
                    cwd=work, capture_output=True, timeout=60,
                )  # fmt: skip
                reply = (Path(work) / "r.tsr").read_bytes() if done.returncode == 0 else b""
            self.send_response(200 if reply else 400)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return LocalTsa(
        f"http://127.0.0.1:{server.server_address[1]}/tsa", directory / "ca.pem", server, received
    )
