"""The scan terms a claim sends: the vendor's profile (or a chosen one) in the API version's wire form."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet

from scanning.meaning import v4_meaning
from scanning.models import Kind, ScanProfile, VendorScanProfile
from scanning.terms import ScanTermError, TermSpec, as_v3_term, expand_for_v4
from trustedform import V4, ScanTerms

if TYPE_CHECKING:
    from certificates.models import Vendor

logger = logging.getLogger(__name__)

# Profiles are few and small; a batch of thousands of claims reads each one once per change.
CACHE_SIZE = 256

_cache: OrderedDict[tuple[int, datetime], ScanTerms] = OrderedDict()
_cache_lock = threading.Lock()


def scan_terms_for_vendor(vendor: Vendor, *, profile_id: int | None = None) -> ScanTerms:
    """The scan terms for a claim of this vendor's certificate: `profile_id` overrides its default profile.

    One small query per call (the profile's id and version stamp); the terms themselves are read and
    expanded once per profile change, then served from a per-process cache. A vendor without a
    profile scans nothing.
    """
    row: QuerySet[Any, tuple[int, datetime]]
    if profile_id is None:
        row = VendorScanProfile.objects.filter(vendor_id=vendor.pk).values_list(
            "profile_id", "profile__updated_at"
        )
    else:
        row = ScanProfile.objects.filter(pk=profile_id).values_list("pk", "updated_at")
    found = row.first()
    if found is None:
        return ScanTerms()
    key = (found[0], found[1])
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    profile = ScanProfile.objects.prefetch_related("terms", "templates").get(pk=key[0])
    terms = scan_terms_for_profile(profile)
    if settings.TRUSTEDFORM_API_VERSION == V4 and v4_meaning(profile).needs_acknowledgement:
        # Still sent (the vendor's claims must not stop), but the pages say so: the profile list, the
        # editor, the preview and each v4 claim's scan result (scanning.meaning.sent_meaning).
        logger.warning("Scan profile %s is sent with a v4 meaning nobody acknowledged", profile.pk)
    with _cache_lock:
        _cache[key] = terms
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return terms


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def profile_specs(profile: ScanProfile) -> tuple[list[TermSpec], list[TermSpec]]:
    """(required, forbidden) term specs of a profile: its terms, then its templates, oldest first."""
    members = sorted(profile.terms.all(), key=lambda t: t.pk) + sorted(
        profile.templates.all(), key=lambda t: t.pk
    )
    required = [m.spec() for m in members if m.kind == Kind.REQUIRED]
    forbidden = [m.spec() for m in members if m.kind == Kind.FORBIDDEN]
    return required, forbidden


def scan_terms_for_profile(profile: ScanProfile) -> ScanTerms:
    """A profile in wire form: v3 terms (templates as {"template", "variables"}), v4 expansions, delimiter.

    v4 has no templates, so each distinct expansion is sent as its own term (docs/trustedform.md §6).
    """
    required, forbidden = profile_specs(profile)
    return scan_terms_from_specs(required, forbidden, profile.delimiter)


def scan_terms_from_specs(required: list[TermSpec], forbidden: list[TermSpec], delimiter: str) -> ScanTerms:
    """Terms in wire form; the preview builds what it shows with this, so it shows what a claim sends."""
    return ScanTerms(
        required=tuple(as_v3_term(spec) for spec in required),
        forbidden=tuple(as_v3_term(spec) for spec in forbidden),
        delimiter=delimiter,
        required_v4=_expanded(required, delimiter or None),
        forbidden_v4=_expanded(forbidden, delimiter or None),
    )


def _expanded(specs: list[TermSpec], delimiter: str | None) -> tuple[str, ...]:
    strings: dict[str, Any] = {}  # ordered, without duplicates
    for spec in specs:
        try:
            expansions = expand_for_v4(spec, delimiter)
        except ScanTermError as exc:
            # Saved through the editor this cannot happen; a row edited by hand is sent as written
            # rather than failing the claim (TrustedForm reads an odd term as plain text).
            logger.warning("Scan term %s sent unexpanded: %s", spec.label, exc.reason)
            expansions = [spec.text]
        strings.update(dict.fromkeys(expansions))
    return tuple(strings)
