"""What a certificate's state means for the person looking at it: what happened, whether it was billed,
and what they can do next. Every state has an answer: there is no dead end (the README lists them)."""

from __future__ import annotations

from dataclasses import dataclass

from certificates.models import Certificate, Claim
from certificates.tables import short_datetime


@dataclass(frozen=True)
class NextStep:
    what: str  # what happened, in one line
    billed: str  # plainly: billed, not billed, or not known yet (and what tfdash does about it)
    can: tuple[str, ...]  # what a person can do from here


def next_step(certificate: Certificate, latest_claim: Claim | None = None) -> NextStep:
    state = Certificate.State
    if certificate.state == state.PENDING:
        if certificate.last_attempt_unknown:
            billed = (
                "Not known yet: the answer to the last request was lost. Before anything else is sent, tfdash "
                "asks TrustedForm whether it holds a claim, so it is never billed twice."
            )
        else:
            billed = "Not billed yet."
        what = "Waiting to be claimed by the worker"
        if certificate.last_error:
            what += f"; the last attempt failed ({certificate.last_error}), and tfdash tries again"
        what += f", before the deadline {short_datetime(certificate.claim_deadline)}."
        return NextStep(
            what,
            billed,
            (
                "Claim now",
                "Check in to extend the window to 90 days",
                "Correct the lead's email, phone, reference or vendor",
            ),
        )
    if certificate.state == state.HELD:
        return NextStep(
            f"On hold: {certificate.state_reason or 'it cannot be claimed as it stands.'}",
            "Not billed: nothing was retained.",
            (
                "Correct the lead below: it goes back in the queue and is claimed at once",
                "Check in to extend the window to 90 days while you find the data",
            ),
        )
    if certificate.state == state.CLAIMED:
        outcome = latest_claim.outcome if latest_claim else certificate.outcome
        checks = (
            "and every check passed."
            if outcome == Certificate.Outcome.SUCCESS
            else "but a check failed: it needs a review before the lead is contacted."
        )
        return NextStep(
            f"Claimed: TrustedForm retained it, {checks}",
            "Billed: a retained certificate is billed, whether its checks passed or failed.",
            ("Review it", "Download its evidence package", "View TrustedForm's answer again (not billed)"),
        )
    if certificate.state == state.ERROR:
        return NextStep(
            f"Not claimable: {certificate.state_reason or 'TrustedForm refused it.'} No retry can change this answer.",
            "Not billed: TrustedForm answered with an error, which retains nothing.",
            ("Download its evidence package to show what TrustedForm answered", "Raise it with the vendor"),
        )
    if certificate.state == state.EXPIRED:
        return NextStep(
            f"Expired before it was claimed: {certificate.state_reason or 'its window closed.'}",
            "Not billed.",
            ("Nothing more can be claimed; the vendor report counts it", "Raise it with the vendor"),
        )
    return NextStep(
        f"Cancelled: {certificate.state_reason or 'it will not be claimed.'}",
        "Not billed.",
        ("Nothing is sent for it",),
    )
