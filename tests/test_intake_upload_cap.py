"""The import page refuses an upload over INTAKE_MAX_UPLOAD_BYTES from its size alone, before reading it;
and a large file's dry run reads only its first lines in the web request, leaving the rest to the worker."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from certificates.intake import uploads
from certificates.models import Certificate, ImportBatch
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

IMPORT = reverse("intake:import")


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path):
    settings.INTAKE_UPLOAD_DIR = tmp_path / "uploads"
    return settings.INTAKE_UPLOAD_DIR


@pytest.fixture
def analyst(client):
    user = make_user("analyst")
    client.login(username=user.username, password=PASSWORD)
    return user


def url(n: int) -> str:
    return f"https://cert.trustedform.com/{n:040x}"


def leads(rows: int) -> str:
    return "cert_url,vendor\n" + "".join(f"{url(n)},Acme\n" for n in range(1, rows + 1))


def nothing_was_created(upload_dir) -> bool:
    stored = list(upload_dir.iterdir()) if upload_dir.exists() else []
    return stored == [] and not ImportBatch.objects.exists() and not Certificate.objects.exists()


def test_an_upload_over_the_cap_gets_a_clear_error_and_creates_nothing(client, settings, analyst, upload_dir):
    settings.INTAKE_MAX_UPLOAD_BYTES = 2_000
    content = leads(60).encode()  # about 4 KB

    response = client.post(IMPORT, {"file": SimpleUploadedFile("leads.csv", content), "vendor": ""})

    page = response.content.decode()
    assert response.status_code == 413
    assert 'data-testid="upload-error"' in page
    assert "the import page takes up to 2.0\xa0KB" in page and "manage.py import_leads" in page
    assert "Import leads" in page  # the form is shown again, to pick a smaller file
    assert nothing_was_created(upload_dir)


def test_a_179_mb_upload_is_refused_from_its_content_length_without_reading_the_body(
    client, analyst, upload_dir
):
    # The body is a few bytes: the test client fails the request if anything tries to read 179 MB of it.
    response = client.post(
        IMPORT,
        {"file": SimpleUploadedFile("huge.csv", b"cert_url\n"), "vendor": ""},
        CONTENT_LENGTH=str(179 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert "The upload is 179.0\xa0MB; the import page takes up to 50.0\xa0MB" in response.content.decode()
    assert nothing_was_created(upload_dir)


def test_pasted_rows_too_long_for_the_form_get_a_message_not_a_400(client, settings, analyst, upload_dir):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000

    response = client.post(IMPORT, {"text": leads(30), "vendor": ""})

    assert response.status_code == 413
    assert "upload them as a CSV file instead" in response.content.decode()
    assert nothing_was_created(upload_dir)


def test_an_upload_under_the_cap_goes_to_the_dry_run(client, settings, analyst):
    content = leads(3).encode()
    settings.INTAKE_MAX_UPLOAD_BYTES = len(content) + 1_000  # room for the multipart envelope

    response = client.post(IMPORT, {"file": SimpleUploadedFile("leads.csv", content), "vendor": ""})

    assert response.status_code == 302 and "/intake/" in response["Location"]


def test_the_import_form_still_needs_its_csrf_token(analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)

    response = client.post(IMPORT, {"file": SimpleUploadedFile("leads.csv", leads(2).encode()), "vendor": ""})

    assert response.status_code == 403
    assert not ImportBatch.objects.exists()


def test_a_large_files_dry_run_reads_only_its_first_lines_and_the_worker_reads_all(
    client, settings, analyst, monkeypatch, django_capture_on_commit_callbacks
):
    settings.INTAKE_INLINE_IMPORT_BYTES = 100  # every file of more than a line or two is large
    monkeypatch.setattr(uploads, "DRY_RUN_LINES", 10)
    dry = client.post(IMPORT, {"file": SimpleUploadedFile("leads.csv", leads(50).encode()), "vendor": ""})

    page = client.get(dry["Location"])

    report = page.context["report"]
    assert report.partial and report.lines == 10 and report.counts.new == 9
    assert 'data-testid="partial"' in page.content.decode()
    assert "Import the whole file" in page.content.decode()

    token = dry["Location"].rstrip("/").split("/")[-1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("intake:confirm", args=[token]), {"new_vendor": "Acme", "confirm_new_vendors": "1"}
        )

    assert ImportBatch.objects.get().accepted == 50


def test_a_small_files_dry_run_reads_it_all(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "DRY_RUN_LINES", 10)
    path = tmp_path / "leads.csv"
    path.write_text(leads(50))

    report = uploads.dry_run_file(path)

    assert not report.partial and report.counts.new == 50 and report.lines == 51
