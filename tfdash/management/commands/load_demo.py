"""Load the demo: one user per role, a few vendors, and certificates minted by the sandbox."""

import json
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from certificates.intake.leads import intake_lead, parse_url, vendor_named
from tfdash.roles import ROLES

DEMO_PASSWORD = "tfdash-demo"  # noqa: S105 (demo accounts for `make run` only)
VENDORS = ["Acme Leads", "Bright Solar Media", "Northwind Insurance Leads"]
# The first certificates are left out of the list, to be pasted into "Claim a certificate" by hand.
KEPT_FOR_HAND_CLAIM = 3


class Command(BaseCommand):
    help = "Create the demo users (one per role) and import the sandbox-minted demo certificates."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "certificates", type=Path, help="JSON list written by `manage.py sandbox_mint --json`"
        )

    def handle(self, *args, certificates: Path, **options) -> None:
        for role in ROLES:
            user, created = User.objects.get_or_create(
                username=role, defaults={"email": f"{role}@example.com"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = role == "admin"
                user.save()
            user.groups.set([Group.objects.get(name=role)])
        try:
            minted = json.loads(certificates.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {certificates}: {exc}") from None
        for n, item in enumerate(minted[KEPT_FOR_HAND_CLAIM:]):
            intake_lead(
                parse_url(item["cert_url"]),
                vendor=vendor_named(VENDORS[n % len(VENDORS)]),
                email=item.get("email", ""),
                phone=item.get("phone", ""),
                reference=f"DEMO-{n + 1:04d}",
                lead_created_at=parse_datetime(item["created_at"]) if item.get("created_at") else None,
            )
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}): {', '.join(ROLES)}")
        self.stdout.write("Certificates to claim by hand (Claim a certificate, as analyst):")
        for item in minted[:KEPT_FOR_HAND_CLAIM]:
            self.stdout.write(
                f"  {item['cert_url']}  email {item.get('email', '')}  phone {item.get('phone', '')}"
            )
