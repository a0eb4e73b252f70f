"""Formatting for pages: countdowns, match marks, durations. Kept out of templates on purpose."""

import copy
import json
from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from certificates.masking import shown_contact
from certificates.models import Actor
from trustedform import Lead, parse_claim_response

register = template.Library()

# The dashboard speaks English only; Django's "M" format looks each name up through gettext per cell.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@register.filter
def when(value: datetime | None, precision: str = "") -> str:
    """`Dec 3, 14:07 UTC` in the site's time zone (TIME_ZONE), with the year when it is not this year's,
    and the seconds with `when:"seconds"`. Every time on a page goes through here, so all read alike."""
    if not isinstance(value, datetime):
        return ""
    # The zone read once (timezone.localtime looks it up on each call): the list calls this 100 times a page.
    zone = timezone.get_current_timezone()
    local = timezone.localtime(value, zone)
    day = f"{MONTHS[local.month - 1]} {local.day}"
    if local.year != timezone.now().astimezone(zone).year:
        day += f", {local.year}"
    clock = f"{local.hour:02}:{local.minute:02}"  # as %H:%M, without strftime's parsing
    if precision == "seconds":
        clock += f":{local.second:02}"
    return f"{day}, {clock} {local.tzname()}"


@register.filter
def deadline_label(deadline: datetime | None) -> str:
    """ "Deadline" while the window is open, "Was due" once it has closed, whatever the state."""
    return "Was due" if deadline is not None and deadline < timezone.now() else "Deadline"


@register.filter
def sent_as(claim) -> str:
    """The API version the claim's request went out with. Claim.api_version is the shape of the answer:
    a view again is always a v3 GET, yet an account's v4 claim comes back in the v4 shape."""
    call = claim.api_call if claim.api_call_id else None
    if call is None or not call.api_version:
        return f"API v{claim.api_version}"
    if call.operation == "view":
        return f"viewed again, sent as API v{call.api_version}"
    return f"sent as API v{call.api_version}"


@register.filter
def share_url(claim) -> str:
    """TrustedForm's share link in the claim's stored answer, read by the client's own parser; or ""."""
    raw = claim.raw_response if isinstance(claim.raw_response, dict) else {}
    url = parse_claim_response(
        raw, status=200, api_version=claim.api_version, lead=Lead(), scans=None
    ).share_url
    return url if url.startswith("https://") else ""  # never a javascript: or plain-http link


@register.filter
def uncut(field):
    """A form field's input without the browser's maxlength. A browser cuts a longer paste silently;
    without the attribute the server's max_length check answers with a form error that says so."""
    widget = copy.copy(field.field.widget)
    widget.attrs = {k: v for k, v in widget.attrs.items() if k != "maxlength"}
    return field.as_widget(widget=widget)


@register.filter
def as_json(value: object) -> str:
    """Stored JSON as JSON (indented, keys as TrustedForm sent them), not as a Python repr."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


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
    return "not checked" if value is None else ("matched" if value else "did not match")


@register.filter
def yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


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
    return "not checked" if value is None else ("passed" if value else "failed")


@register.filter
def fingerprint_values(fingerprints: dict | None) -> list[tuple[str, str]]:
    """The claim's fingerprint hashes as (hash, "matched" | "did not match"), for the evidence table."""
    fingerprints = fingerprints or {}
    return [(h, "matched") for h in fingerprints.get("matching", [])] + [
        (h, "did not match") for h in fingerprints.get("non_matching", [])
    ]


@register.filter
def email_for(value: str, user: Actor) -> str:
    """A lead's email, masked for a user who may not see it: `{{ c.lead_email|email_for:request.user }}`."""
    return shown_contact(value, "email", user)


@register.filter
def phone_for(value: str, user: Actor) -> str:
    """A lead's phone, masked for a user who may not see it: `{{ c.lead_phone|phone_for:request.user }}`."""
    return shown_contact(value, "phone", user)
