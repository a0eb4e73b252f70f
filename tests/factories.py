"""Plain factories: each builds one object with sensible defaults that a test can override."""

import itertools

from django.contrib.auth.models import Group, User

from certificates.intake.leads import intake_lead, parse_url, vendor_named
from certificates.models import Certificate, Vendor

PASSWORD = "correct-horse-battery"  # noqa: S105
_seq = itertools.count(1)


def make_user(role: str | None = "analyst", *, username: str | None = None, email: str = "") -> User:
    user = User.objects.create_user(
        username=username or f"{role or 'nobody'}-{next(_seq)}", email=email, password=PASSWORD
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_vendor(name: str | None = None) -> Vendor:
    return vendor_named(name or f"Vendor {next(_seq)}")


def make_certificate(cert_url: str | None = None, *, vendor: Vendor | None = None, **lead) -> Certificate:
    """A pending certificate; with no URL, a well-formed one that no sandbox has issued.

    Pending even without an email or phone (as intake makes it under API v3); under v4 intake would hold
    such a lead, which the tests of holding make through intake itself."""
    cert_url = cert_url or f"https://cert.trustedform.com/{next(_seq):040x}"
    certificate = intake_lead(parse_url(cert_url), vendor=vendor or make_vendor(), **lead).certificate
    if certificate.state == Certificate.State.HELD:
        Certificate.objects.filter(pk=certificate.pk).update(state=Certificate.State.PENDING, state_reason="")
        certificate.refresh_from_db()
    return certificate
