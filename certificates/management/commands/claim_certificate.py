"""Claim one certificate from a script or a support session, through the same client and log."""

import json

from django.core.management.base import BaseCommand, CommandError

from certificates import claiming
from trustedform import API_VERSIONS, ClaimResult, InvalidCertificateUrl, Lead, TrustedFormError


class Command(BaseCommand):
    help = "Claim one TrustedForm certificate and print the typed result (--json: one JSON object on the last line)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("url", help="the certificate URL")
        parser.add_argument("--email", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--reference", default="")
        parser.add_argument("--vendor", default="")
        parser.add_argument("--api-version", choices=[v.split(".")[0] for v in API_VERSIONS])
        parser.add_argument("--json", action="store_true", help="print the result as JSON on the last line")

    def handle(self, *args, url: str, api_version: str | None, json: bool, **options) -> None:
        lead = Lead(
            email=options["email"],
            phone=options["phone"],
            reference=options["reference"],
            vendor=options["vendor"],
        )
        version = f"{api_version}.0" if api_version else None
        try:
            result = claiming.claim_by_url(url, lead, api_version=version, trigger="command")
        except InvalidCertificateUrl as exc:
            self._fail(json, {"status": None, "reason": exc.reason, "retryable": False})
        except (claiming.AlreadyFinal, claiming.LeaseHeld, claiming.Fenced) as exc:
            # Nothing was sent: claims are billed, and tfdash claims each certificate once.
            self._fail(json, {"status": None, "reason": str(exc), "retryable": False})
        except TrustedFormError as exc:
            self._fail(json, exc.as_dict())
        if json:
            self.stdout.write(dumps(result_summary(result)))
        else:
            for key, value in result_summary(result).items():
                self.stdout.write(f"{key}: {value}")

    def _fail(self, as_json: bool, error: dict) -> None:
        if as_json:
            self.stdout.write(dumps({"error": error}))
        raise CommandError(f"Not claimed: {error['reason']}", returncode=1)


def dumps(data: dict) -> str:
    return json.dumps(data, default=str, sort_keys=True)


def result_summary(result: ClaimResult) -> dict:
    return {
        "outcome": result.outcome,
        "reason": result.reason,
        "api_version": result.api_version,
        "warnings": result.warnings,
        "email_matched": result.email_matched,
        "phone_matched": result.phone_matched,
        "fingerprints": result.fingerprint_summary,
        "scans": result.scans.as_dict(),
        "masked_cert_url": result.masked_cert_url,
        "expires_at": result.expires_at.isoformat() if result.expires_at else None,
        "previously_retained": result.previously_retained,
    }
