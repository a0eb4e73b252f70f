"""What each count means, in one place: the certificates it counts, and the list that shows them.

The daily rollups sum these queries (certificates/reports/rollups.py), the reports show the sums, and
every count links to the certificate list filtered to exactly the certificates it counts
(certificates/filters.py reads the same query string). A new counter is one entry here, a column on
VendorDayRollup with its migration, and the rollup triggers that keep it (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from certificates.models import Certificate

State, Outcome = Certificate.State, Certificate.Outcome


@dataclass(frozen=True)
class CounterSpec:
    name: str  # the VendorDayRollup column
    query: Q  # the certificates it counts
    list_filter: dict[str, str] = field(default_factory=dict)  # the certificate list's query string


COUNTERS: tuple[CounterSpec, ...] = (
    CounterSpec("received", Q()),
    CounterSpec("claimed", Q(state=State.CLAIMED), {"state": "claimed"}),
    CounterSpec("success", Q(outcome=Outcome.SUCCESS), {"outcome": "success"}),
    CounterSpec("failure", Q(outcome=Outcome.FAILURE), {"outcome": "failure"}),
    CounterSpec("outcome_error", Q(outcome=Outcome.ERROR), {"outcome": "error"}),
    CounterSpec("expired", Q(state=State.EXPIRED), {"state": "expired"}),
    CounterSpec("not_claimable", Q(state=State.ERROR), {"state": "error"}),
    CounterSpec("cancelled", Q(state=State.CANCELLED), {"state": "cancelled"}),
    CounterSpec("held", Q(state=State.HELD), {"state": "held"}),
    CounterSpec("checked_in", Q(checked_in_at__isnull=False), {"checked_in": "yes"}),
    CounterSpec("fingerprint_all", Q(fingerprint_result="all"), {"fingerprint": "all"}),
    CounterSpec("fingerprint_some", Q(fingerprint_result="some"), {"fingerprint": "some"}),
    CounterSpec("fingerprint_none", Q(fingerprint_result="none"), {"fingerprint": "none"}),
    CounterSpec("fingerprint_no_data", Q(fingerprint_result="no_data"), {"fingerprint": "no_data"}),
    CounterSpec("scan_passed", Q(scan_success=True), {"scan": "passed"}),
    CounterSpec("scan_failed", Q(scan_success=False), {"scan": "failed"}),
    CounterSpec("masked", Q(is_masked=True), {"masked": "yes"}),
    CounterSpec("bot", Q(bot_detected=True), {"bot": "yes"}),
    CounterSpec("reused", Q(reused=True), {"reused": "yes"}),
    CounterSpec("rejected", Q(review_status=Certificate.ReviewStatus.REJECTED), {"review": "rejected"}),
)
BY_NAME = {counter.name: counter for counter in COUNTERS}
