"""The scan terms a claim sends: the vendor's profile (or a chosen one) in the API version's wire form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certificates.trustedform import ScanTerms

if TYPE_CHECKING:
    from certificates.models import Vendor


def scan_terms_for_vendor(vendor: Vendor, *, profile_id: int | None = None) -> ScanTerms:
    """The scan terms for a claim of this vendor's certificate: `profile_id` overrides its default profile.

    Until scan profiles exist, nothing is scanned.
    """
    return ScanTerms()
