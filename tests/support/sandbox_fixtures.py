"""pytest plugin: one sandbox process per test run, reset before each test that uses it.

Enable with `pytest_plugins = ["tests.support.sandbox_fixtures"]` or `-p tests.support.sandbox_fixtures`.
"""

from collections.abc import Iterator

import pytest

from tests.support.sandbox import SandboxAdmin, SandboxProcess, start_sandbox


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    server = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxProcess) -> SandboxAdmin:
    """A SandboxAdmin on a freshly reset sandbox (no certificates, faults, log; default account and clock)."""
    admin = sandbox_server.admin()
    admin.reset()
    return admin
