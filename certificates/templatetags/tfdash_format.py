"""Formatting for pages: countdowns, match marks, durations. Kept out of templates on purpose."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from certificates.masking import shown_contact

register = template.Library()


@register.filter
def countdown(deadline: datetime | None) -> str:
    """'in 2 h 05 min', '3 d 4 h left' or '5 h ago', for a claim deadline."""
    if deadline is None:
        return ""
    delta = deadline - timezone.now()
    text = duration(abs(delta))
    return f"{text} left" if delta >= timedelta(0) else f"passed {text} ago"


@register.filter
def duration(value: timedelta | int | float | None) -> str:
    if value is None or value == "":
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@register.filter
def match_mark(value: bool | None) -> str:
    return {True: "matched", False: "did not match"}.get(value, "not checked")


@register.filter
def yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "unknown")


@register.filter
def deadline_class(deadline: datetime | None) -> str:
    """urgent under 12 hours, soon under 24 hours: the same thresholds as the at-risk card."""
    if deadline is None:
        return ""
    left = deadline - timezone.now()
    if left < timedelta(hours=12):
        return "urgent"
    return "soon" if left < timedelta(hours=24) else ""


@register.filter
def has_value(value: object) -> bool:
    """True for a filled form value, including a range widget's [start, end] with either end set."""
    if isinstance(value, list | tuple):
        return any(v not in (None, "") for v in value)
    return value not in (None, "", [])


@register.filter
def check_mark(value: bool | None) -> str:
    """For a pass/fail check that may not have run: passed, failed or not checked."""
    return {True: "passed", False: "failed"}.get(value, "not checked")


@register.filter
def fingerprint_values(fingerprints: dict | None) -> list[tuple[str, str]]:
    """The claim's fingerprint hashes as (hash, "matched" | "did not match"), for the evidence table."""
    fingerprints = fingerprints or {}
    return [(h, "matched") for h in fingerprints.get("matching", [])] + [
        (h, "did not match") for h in fingerprints.get("non_matching", [])
    ]


@register.filter
def email_for(value: str, user) -> str:
    """A lead's email, masked for a user who may not see it: `{{ c.lead_email|email_for:request.user }}`."""
    return shown_contact(value, "email", user)


@register.filter
def phone_for(value: str, user) -> str:
    """A lead's phone, masked for a user who may not see it: `{{ c.lead_phone|phone_for:request.user }}`."""
    return shown_contact(value, "phone", user)
