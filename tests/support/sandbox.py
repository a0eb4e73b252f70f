"""Start the TrustedForm sandbox as a real process on a free loopback port, and drive its test knobs.

server = start_sandbox(tmp_path)
admin = SandboxAdmin(server.base_url)
cert = admin.mint(email="kelly@thethings.biz", phone="(513) 555-6719")
... the code under test calls f"{server.base_url}/{cert['cert_id']}" ...
server.stop()
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_API_KEY = "sandbox-demo-key"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxProcess:
    """A running `manage.py run_sandbox`; `stop()` ends it (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, process: subprocess.Popen, base_url: str, db_path: Path, log_path: Path, api_key: str):
        self.process = process
        self.base_url = base_url
        self.db_path = db_path
        self.log_path = log_path
        self.api_key = api_key

    def admin(self) -> "SandboxAdmin":
        return SandboxAdmin(self.base_url, api_key=self.api_key)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode


def start_sandbox(
    data_dir: Path, *, env: dict | None = None, timeout: float = 30.0, threads: int | None = None
) -> SandboxProcess:
    """Run the sandbox with its store in `data_dir`; returns once `/_sandbox/health` answers. `threads`:
    how many requests it answers at once (its default, 32, is fewer than four workers send)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    db_path = data_dir / "sandbox.sqlite3"
    log_path = data_dir / f"sandbox-{port}.log"
    process_env = {**os.environ, "SANDBOX_DB_PATH": str(db_path), **(env or {})}
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", str(port)]
        + (["--threads", str(threads)] if threads else []),
        cwd=REPO_ROOT,
        env=process_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    base_url = f"http://127.0.0.1:{port}"
    server = SandboxProcess(
        process, base_url, db_path, log_path, process_env.get("SANDBOX_API_KEY") or DEMO_API_KEY
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {process.returncode}:\n{server.log()}")
        try:
            if requests.get(f"{base_url}/_sandbox/health", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the sandbox did not become healthy within {timeout}s:\n{server.log()}")


class SandboxAdmin:
    """The sandbox's test knobs (`/_sandbox/...`) over HTTP."""

    def __init__(self, base_url: str, api_key: str = DEMO_API_KEY, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/_sandbox/{path}", json=json, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox {method} {path} answered {response.status_code}: {response.text}")
        return response.json()

    def mint(self, **fields: Any) -> dict[str, Any]:
        """Issue one certificate: email, phone, page_text, age_hours, type, sandbox, form_submitted, bot,
        insights, verify, cert_id. Answers {cert_id, cert_url, expires_at, type, created_at}."""
        return self._call("POST", "certificates", {**fields, "count": 1})

    def mint_many(self, count: int, **fields: Any) -> list[dict[str, Any]]:
        if count == 1:
            return [self.mint(**fields)]
        return self._call("POST", "certificates", {**fields, "count": count})["certificates"]

    def certificate(self, cert_id: str) -> dict[str, Any]:
        """What the store holds about a certificate (window, fingerprints, claims)."""
        return self._call("GET", f"certificates/{cert_id}")

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """latency_ms, error_rate, error_body (json|html|mixed), timeout_rate, hang_seconds, reset_rate,
        rate_limit_rate, retry_after, seed. Replaces the previous knobs."""
        return self._call("POST", "faults", knobs)

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "faults")

    def cert_faults(self, cert_id: str, **knobs: Any) -> dict[str, Any]:
        """fail_next [..."503","timeout","reset","429","html500"], respond {status, body, content_type,
        headers}, times, redirect_to, hang_seconds, retry_after."""
        return self._call("POST", f"certificates/{cert_id}/faults", knobs)

    def clear_cert_faults(self, cert_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"certificates/{cert_id}/faults")

    def set_account(self, **fields: Any) -> dict[str, Any]:
        """active, products, default_api_version, claim_limit, api_key."""
        account = self._call("POST", "account", fields)
        self.api_key = account["api_key"]
        return account

    def account(self) -> dict[str, Any]:
        return self._call("GET", "account")

    def set_clock(self, offset_seconds: float) -> dict[str, Any]:
        return self._call("POST", "clock", {"offset_seconds": offset_seconds})

    def advance(self, seconds: float = 0, hours: float = 0) -> dict[str, Any]:
        return self._call("POST", "clock", {"advance_seconds": seconds + hours * 3600})

    def now(self) -> str:
        return self._call("GET", "clock")["now"]

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Requests the API endpoints (and the trap) received, oldest first. Filters: cert_id, endpoint,
        method, fault, limit."""
        response = self.session.get(
            f"{self.base_url}/_sandbox/requests", params=filters, timeout=self.timeout
        )
        response.raise_for_status()
        return response.json()["requests"]

    def reset(self) -> dict[str, Any]:
        answer = self._call("POST", "reset")
        self.api_key = answer["account"]["api_key"]
        return answer
