"""/healthz: no login, database and worker state, 503 when the database is gone, nothing sensitive."""

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.support.sandbox import free_port

ROOT = Path(__file__).resolve().parent.parent


def get(url: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test server
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def task(status: str, **times) -> DBTaskResult:
    return DBTaskResult.objects.create(
        status=status,
        args_kwargs={"args": [], "kwargs": {}},
        task_path="certificates.worker.claim_due_certificates",
        backend_name="default",
        run_after=times.pop("run_after", timezone.now() - timedelta(hours=1)),
        **times,
    )


def at(when, instance: DBTaskResult) -> DBTaskResult:
    DBTaskResult.objects.filter(pk=instance.pk).update(enqueued_at=when)  # auto_now_add on create
    return instance


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_without_a_login_over_http(live_server):
    status, body, headers = get(f"{live_server.url}/healthz")

    assert status == 200
    assert body == {"database": "ok", "worker": "unknown", "last_seen": None, "alerts": "ok"}
    assert headers["Content-Type"] == "application/json"
    assert "no-cache" in headers["Cache-Control"]


@pytest.mark.django_db
def test_the_worker_is_ok_when_it_finished_a_task_and_nothing_waits(client):
    finished = timezone.now() - timedelta(minutes=20)
    task("SUCCESSFUL", finished_at=finished)

    body = client.get("/healthz").json()

    assert body == {"database": "ok", "worker": "ok", "last_seen": finished.isoformat(), "alerts": "ok"}


@pytest.mark.django_db
def test_the_worker_is_stale_when_a_due_task_waits_too_long(client, settings):
    settings.HEALTH_WORKER_STALE_SECONDS = 300
    task("SUCCESSFUL", finished_at=timezone.now() - timedelta(hours=2))
    at(timezone.now() - timedelta(minutes=6), task("READY"))

    response = client.get("/healthz")

    assert response.status_code == 200  # the database is fine; the monitor reads "worker"
    assert response.json()["worker"] == "stale"


@pytest.mark.django_db
def test_a_task_just_enqueued_or_scheduled_later_is_not_a_stale_worker(client):
    task("FAILED", finished_at=timezone.now() - timedelta(hours=2))
    at(timezone.now() - timedelta(seconds=10), task("READY"))
    at(timezone.now() - timedelta(hours=1), task("READY", run_after=timezone.now() + timedelta(hours=1)))

    assert client.get("/healthz").json()["worker"] == "ok"


def gunicorn(tmp_path, database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tfdash.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tfdash.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "gunicorn.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)  # noqa: S310
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    return process, url


@pytest.mark.parametrize(
    ("database", "expected_status", "expected_body"),
    [
        (
            "sqlite:///{tmp}/empty.sqlite3",
            200,
            {"database": "ok", "worker": "unknown", "last_seen": None, "alerts": "unknown"},
        ),
        (
            "sqlite:///{tmp}/missing-dir/x.sqlite3",
            503,
            {"database": "error", "worker": "unknown", "last_seen": None, "alerts": "unknown"},
        ),
    ],
)
def test_a_production_server_answers_healthz_over_plain_http(
    tmp_path, database, expected_status, expected_body
):
    process, url = gunicorn(tmp_path, database.format(tmp=tmp_path))
    try:
        status, body, _ = get(f"{url}/healthz")
        login_page = urllib.request.Request(f"{url}/login/")
        with pytest.raises(urllib.error.HTTPError) as redirected:  # everything else goes to https
            opener = urllib.request.build_opener(NoRedirect)
            opener.open(login_page, timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert (status, body) == (expected_status, expected_body)
    assert redirected.value.code == 301
    assert redirected.value.headers["Location"].startswith("https://")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
