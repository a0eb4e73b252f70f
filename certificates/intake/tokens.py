"""Intake tokens: issued once (only a hash is kept), looked up, revoked."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from certificates.models import (
    Actor,
    IntakeToken,
)

# --- Intake tokens ---------------------------------------------------------------------------------

TOKEN_PREFIX = "tfi_"
TOKEN_SCOPES = {
    "leads:write": "Push leads",
    "leads:read": "Read a lead's state back",
    "revocations:write": "Record consumers' revocations of consent",
}


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def issue_intake_token(*, name: str, scopes: Iterable[str], user: Actor = None) -> tuple[IntakeToken, str]:
    """A new token: returns the row and the raw token, which is never stored and shown only once."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = IntakeToken.objects.create(
        name=name,
        prefix=raw[:12],
        token_hash=hash_token(raw),
        scopes=sorted(set(scopes) & TOKEN_SCOPES.keys()),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return token, raw


def token_for(raw: str) -> IntakeToken | None:
    """The active token with this value, or None (unknown, malformed or revoked)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = IntakeToken.objects.filter(token_hash=hash_token(raw), revoked_at__isnull=True).first()
    if token is not None:
        now = timezone.now()
        # One write a minute at most: the API may be called hundreds of times a minute.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            IntakeToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke_intake_token(token: IntakeToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
