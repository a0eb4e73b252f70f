"""The claim result's note when a v4 claim sent a template's rows as separate required terms."""

from typing import Any

from django import template

from scanning.meaning import sent_meaning

register = template.Library()


@register.inclusion_tag("scanning/_claim_v4_meaning.html")
def claim_v4_meaning(claim: Any) -> dict[str, Any]:
    """`claim` is a certificates Claim: its API version and the scan lists TrustedForm echoed."""
    scans = claim.scans if isinstance(claim.scans, dict) else {}
    meaning = sent_meaning(scans, claim.scan_success) if str(claim.api_version).startswith("4") else None
    return {"meaning": meaning}
