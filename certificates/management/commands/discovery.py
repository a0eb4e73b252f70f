"""Build a discovery package for one person, place a hold on what it finds, and say where it is."""

import json as _json
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from certificates.evidence import discovery
from certificates.evidence.timestamps import TimestampError
from certificates.models import Vendor


class Command(BaseCommand):
    help = (
        "Everything on record about one person (phone and/or email, matched as search matches), in one "
        "ZIP with summary, revocations and MANIFEST.sha256; places a legal hold named --hold on it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--phone", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--vendor", default="", help="a vendor's name (exact, any case)")
        parser.add_argument("--since", default="", help="received on or after this date (YYYY-MM-DD)")
        parser.add_argument("--until", default="", help="received on or before this date (YYYY-MM-DD)")
        parser.add_argument("--hold", required=True, help="the legal hold's name (the matter)")
        parser.add_argument("--out", required=True, help="where to write the ZIP")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args, phone: str, email: str, vendor: str, since: str, until: str, hold: str, out: str,
               json: bool, **options) -> None:  # fmt: skip
        vendor_row = None
        if vendor:
            vendor_row = Vendor.objects.filter(name__iexact=vendor.strip()).first()
            if vendor_row is None:
                raise CommandError(f"No vendor is called “{vendor}”.")
        dates: dict[str, date | None] = {}
        for name, value in (("since", since), ("until", until)):
            if value and (dates.setdefault(name, parse_date(value)) is None):
                raise CommandError(f"--{name} {value!r} is not a date (YYYY-MM-DD).")
        path = Path(out).resolve()
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a directory.")
        try:
            request = discovery.open_request(
                user=None, hold_name=hold, phone=phone, email=email, vendor=vendor_row,
                since=dates.get("since"), until=dates.get("until"),
            )  # fmt: skip
            request = discovery.build(request, out=path)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except TimestampError as exc:
            raise CommandError(f"The package was not written: {exc}") from None
        self.stdout.write(
            f"Found {request.total} certificate{'' if request.total == 1 else 's'} for {request.asked}; "
            f"placed the hold “{request.hold_name}” on them; wrote {path}"
            + (" (timestamped)." if request.timestamped else ".")
        )
        if json:
            self.stdout.write(_json.dumps({"certificates": request.total, "hold": request.hold_name, "out": str(path),
                                           "manifest_sha256": request.manifest_sha256}))  # fmt: skip
