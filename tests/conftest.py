import os

import pytest

from tests.support.sandbox import SandboxAdmin, start_sandbox

pytest_plugins = ["tests.support.sandbox_fixtures"]

# Playwright's sync API runs an event loop in the test thread; Django's ORM would refuse to run beside
# it. Test-only escape hatch; never set in settings.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def api_key() -> str:
    from django.conf import settings

    return settings.TRUSTEDFORM_API_KEY


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory, api_key):
    """One sandbox process for the whole run, accepting the tests' distinctive API key."""
    process = start_sandbox(tmp_path_factory.mktemp("sandbox"), env={"SANDBOX_API_KEY": api_key})
    yield process
    process.stop()


@pytest.fixture
def tf_api(settings, sandbox: SandboxAdmin) -> SandboxAdmin:
    """Point the product's client at the running sandbox, exactly as production settings would."""
    from certificates import claiming

    settings.TRUSTEDFORM_API_BASE = sandbox.base_url
    claiming.get_client.cache_clear()
    yield sandbox
    claiming.get_client.cache_clear()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium, never a browser downloaded by Playwright."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture(autouse=True)
def _forget_kept_permissions():
    """Each test rolls its database back (auth version included): what a process kept goes too."""
    from tfdash import authcache

    authcache.forget_all()
    yield
    authcache.forget_all()


@pytest.fixture(autouse=True)
def _empty_django_cache():
    """Each test starts with an empty cache: the database is emptied between tests, so what the cache
    remembers of it (the open-alert count, compiled scan profiles) must be too."""
    from django.core.cache import cache

    cache.clear()
