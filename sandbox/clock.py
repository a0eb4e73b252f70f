"""The sandbox's own clock: real UTC time plus an offset that tests move (`/_sandbox/clock`).

Every lifetime rule reads this clock. The offset lives in the state row, so all threads and processes
agree on it.
"""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sandbox import state as sandbox_state
from sandbox.models import State


def now(state: State) -> datetime:
    return timezone.now() + timedelta(seconds=state.clock_offset_seconds)


def set_offset(offset_seconds: float) -> State:
    with transaction.atomic():
        state = sandbox_state.load()
        state.clock_offset_seconds = float(offset_seconds)
        state.save(update_fields=["clock_offset_seconds"])
    return state


def advance(seconds: float) -> State:
    with transaction.atomic():
        state = sandbox_state.load()
        state.clock_offset_seconds += float(seconds)
        state.save(update_fields=["clock_offset_seconds"])
    return state


def isoformat(moment: datetime) -> str:
    """UTC ISO 8601 with whole seconds and a Z, as the service writes dates."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
