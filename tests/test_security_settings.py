"""Production settings: refuse to start without a secret key, pass `check --deploy`, send the headers."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py with the production settings module and only the given environment."""
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def production_env(tmp_path, **overrides) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "tfdash.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "tfdash.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://tfdash.example.com",
        "SECURE_PROXY_SSL_HEADER": "True",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        **overrides,
    }


def test_check_deploy_is_clean_with_production_env_vars(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_a_weak_key_so_the_clean_run_above_means_something(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **production_env(tmp_path, SECRET_KEY="short")
    )

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]

    result = manage("check", **env)

    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off" in result.stderr


def test_alert_emails_without_a_mail_server_refuse_to_start(tmp_path):
    result = manage("check", **production_env(tmp_path, ALERT_EMAILS="compliance@example.com"))

    assert result.returncode != 0
    assert "ALERT_EMAILS is set but EMAIL_URL is not" in result.stderr


def test_a_lease_too_short_for_a_request_to_leave_and_be_answered_refuses_to_start(tmp_path):
    short = manage(
        "check", **production_env(tmp_path, CLAIM_LEASE_SECONDS="50", TRUSTEDFORM_READ_TIMEOUT="30")
    )
    enough = manage(
        "check", **production_env(tmp_path, CLAIM_LEASE_SECONDS="60", TRUSTEDFORM_READ_TIMEOUT="30")
    )

    assert short.returncode != 0
    assert "CLAIM_LEASE_SECONDS=50 must be at least twice TRUSTEDFORM_READ_TIMEOUT=30" in short.stderr
    assert enough.returncode == 0, enough.stderr


def test_check_deploy_is_clean_with_an_smtp_mail_server_for_alerts(tmp_path):
    env = production_env(
        tmp_path, ALERT_EMAILS="compliance@example.com", EMAIL_URL="smtp+tls://tfdash:pw@mail.example.com:587"
    )

    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_secret_key_can_come_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets.token_urlsafe(50) + "\n")
    env = production_env(tmp_path, SECRET_KEY_FILE=str(key_file))
    del env["SECRET_KEY"]

    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)

    assert result.returncode == 0, result.stderr


def test_debug_is_off_and_cookies_are_secure_by_default(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS, s.SECURE_CONTENT_TYPE_NOSNIFF, "
        "s.SECURE_PROXY_SSL_HEADER, s.CSRF_TRUSTED_ORIGINS, s.SESSION_EXPIRE_AT_BROWSER_CLOSE)"
    )

    result = manage("shell", "-c", script, **production_env(tmp_path, SESSION_EXPIRE_AT_BROWSER_CLOSE="True"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "False True True True True 31536000 DENY True ('HTTP_X_FORWARDED_PROTO', 'https') "
        "['https://tfdash.example.com'] True"
    )


@pytest.mark.django_db
def test_pages_carry_the_csp_and_refuse_framing(client):
    response = client.get(reverse("login"))

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    # Django adds 'nonce-...' only to pages that used {{ csp_nonce }}; inline code is never allowed.
    assert re.search(r"script-src 'self'( 'nonce-[A-Za-z0-9+/=_-]+')?;", csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no external origin anywhere in the policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


# Documents that are not pages of the site: files inside an evidence or discovery ZIP, an email (mail
# clients need inline styles).
NOT_SERVED = {
    "certificates/evidence_package.html",
    "certificates/discovery_index.html",
    "alerts/alert_email.html",
}


def csp_offences(path: Path) -> list[str]:
    text = path.read_text()
    offences = []
    for tag in re.findall(r"<script\b[^>]*>", text):
        if "src=" not in tag and 'nonce="{{ csp_nonce }}"' not in tag:
            offences.append(f"inline script without a nonce: {tag}")
        if re.search(r"src=[\"']?(https?:)?//", tag):
            offences.append(f"script from another origin: {tag}")
    offences += [f"inline style attribute: {m}" for m in re.findall(r"\sstyle=[\"'][^\"']*", text)]
    offences += [f"<style> element: {m}" for m in re.findall(r"<style\b", text)]
    offences += [f"inline event handler: {m}" for m in re.findall(r"\son[a-z]+=[\"']", text)]
    offences += [
        f"stylesheet from another origin: {m}"
        for m in re.findall(r"<link\b[^>]*href=[\"']https?://[^>]*>", text)
    ]
    return offences


def test_no_template_needs_what_the_csp_forbids():
    offences = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name not in NOT_SERVED and (found := csp_offences(path)):
            offences[name] = found

    assert offences == {}


def test_the_template_scan_catches_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<script>alert(1)</script><div style="color:red" onclick="x()"></div>'
        '<script src="https://cdn.example.com/x.js"></script><script nonce="{{ csp_nonce }}">ok()</script>'
    )

    assert len(csp_offences(bad)) == 4
