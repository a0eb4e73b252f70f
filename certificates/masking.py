"""Leads' emails and phones, shown in full only to roles that work with them (analysts and up).

Viewers see `j***@example.com` and `***-***-1212`: enough to tell leads apart, not to call or mail one.
Every page, table and partial that shows a lead's contact goes through `shown_contact`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from certificates.models import Actor

CONTACT_PERMISSION = "certificates.view_lead_contact"
HIDDEN = "***"


def may_see_contact(user: Actor) -> bool:
    return bool(user is not None and user.has_perm(CONTACT_PERMISSION))


def mask_email(value: str) -> str:
    """The first letter of the mailbox and the domain: `jane@example.com` -> `j***@example.com`."""
    local, at, domain = (value or "").rpartition("@")
    if not at:
        return HIDDEN if value else ""
    return f"{local[:1]}{HIDDEN}@{domain}"


def mask_phone(value: str) -> str:
    """The last four digits: `(512) 555-1212` -> `***-***-1212`."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) < 7:  # too short to keep any digit without giving most of it away
        return HIDDEN if value else ""
    return f"{HIDDEN}-{HIDDEN}-{digits[-4:]}"


def shown_contact(value: str, kind: str, user: Actor) -> str:
    """The value as this user may see it; `kind` is "email" or "phone"."""
    return contact_as(value, kind, bool(value) and may_see_contact(user))


def contact_as(value: str, kind: str, in_full: bool) -> str:
    """`shown_contact` with the permission already checked: a table checks it once, not twice a row."""
    if not value or in_full:
        return value
    return mask_email(value) if kind == "email" else mask_phone(value)
