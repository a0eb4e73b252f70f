"""`manage.py import_leads FILE.csv [--vendor NAME] [--dry-run]` for scripts."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from certificates.models import Certificate, ImportBatch
from tests.factories import make_certificate, make_vendor

pytestmark = pytest.mark.django_db


def url(n: int) -> str:
    return f"https://cert.trustedform.com/{n:040x}"


@pytest.fixture
def leads_csv(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(
        "cert_url,email,vendor\n"
        f"{url(1)},jane@example.com,\n"
        f"{url(2)},joe@example.com,Bolt\n"
        "http://cert.trustedform.com/abc,nope,\n"
    )
    return path


def run(*args) -> str:
    out = StringIO()
    call_command("import_leads", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_imports_and_prints_counts_and_each_rejected_row(leads_csv):
    make_certificate(url(2), vendor=make_vendor("Acme"))

    output = run(str(leads_csv), "--vendor", "Acme")

    batch = ImportBatch.objects.get()
    assert batch.source == ImportBatch.Source.COMMAND
    assert f"3 rows: 1 new, 0 duplicates, 1 reused, 1 rejected (batch {batch.pk})" in output
    assert "line 4: cert_url: Certificate URLs must use https://, not http://." in output
    assert "line 4: email: Not a valid email address." in output
    assert Certificate.objects.get(cert_id=f"{1:040x}").vendor.name == "Acme"


def test_a_dry_run_saves_nothing(leads_csv):
    output = run(str(leads_csv), "--vendor", "Acme", "--dry-run")

    assert output.startswith("line 4: cert_url:")
    assert "Dry run, nothing saved: 3 rows: 2 new, 0 duplicates, 0 reused, 1 rejected" in output
    assert not Certificate.objects.exists()
    assert not ImportBatch.objects.exists()


def test_rows_without_a_vendor_are_rejected_when_none_is_given(leads_csv):
    output = run(str(leads_csv))

    assert "line 2: vendor: No vendor" in output
    assert "1 new" in output


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(str(tmp_path / "nope.csv"))

    assert not ImportBatch.objects.exists()


def test_exit_codes_are_0_when_read_and_1_when_not(tmp_path):
    # manage.py exits with a CommandError's returncode, and with 0 when the command returns.
    bad_rows = tmp_path / "bad.csv"
    bad_rows.write_text("cert_url,vendor\nhttp://x,Acme\n")

    assert "1 rejected" in run(str(bad_rows))
    with pytest.raises(CommandError) as unreadable:
        run(str(tmp_path / "missing.csv"))

    assert unreadable.value.returncode == 1
    assert ImportBatch.objects.get().rejected == 1
