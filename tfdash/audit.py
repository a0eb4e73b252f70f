"""The audit trail: who changed what, across the audited models, and the API-call log's chain check.

Each audited model keeps its history in its own table (django-simple-history). The audit page reads the
recent rows of all of them as one UNION ordered by time, a page at a time, then describes only the rows
on that page (what changed, old -> new). Certificates are not audited here: their every API call is in
the hash-chained API-call log already, and a history row per claim would double the writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.db.models import CharField, Model, QuerySet, Value
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from certificates.alerts.models import Alert
from certificates.alerts.raising import raise_alert
from certificates.apilog.verification import Verification, verify
from certificates.models import Actor, signed_in
from tfdash.models import ApiLogVerification

# label -> model, in the order the filter lists them.
AUDITED = {
    "user": "auth.User",
    "group": "auth.Group",
    "vendor": "certificates.Vendor",
    "intaketoken": "certificates.IntakeToken",
    "review": "certificates.Review",
    "accountstatus": "certificates.AccountStatus",
    "reportthreshold": "certificates.ReportThreshold",
    "scanterm": "scanning.ScanTerm",
    "scantemplate": "scanning.ScanTemplate",
    "scanprofile": "scanning.ScanProfile",
    "vendorscanprofile": "scanning.VendorScanProfile",
}
ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
# Shown as "(hidden)": a digest says nothing to a reader and need not be on a page.
UNSHOWN_FIELDS = {"token_hash"}
BOOKKEEPING = {"id", "history_id", "history_date", "history_change_reason", "history_type", "history_user"}
MAX_VALUE = 120
# A verification still "running" after this long died with its worker; another may be started.
VERIFICATION_STALE = timedelta(hours=2)


def audited_model(label: str) -> type[Model]:
    return apps.get_model(AUDITED[label])


def model_choices() -> list[tuple[str, str]]:
    return [(label, str(audited_model(label)._meta.verbose_name).capitalize()) for label in AUDITED]


def recent_changes(*, model: str = "", user_id: int | None = None) -> QuerySet:
    """History rows of every audited model (or one), newest first, as dicts:
    {history_id, history_date, history_user_id, history_type, id (the object's), model}.

    One UNION ALL, so that a page costs one query with LIMIT/OFFSET, whatever the number of tables.
    """
    parts = []
    for label in [model] if model else AUDITED:
        rows = audited_model(label).history.all()  # type: ignore[attr-defined]  # simple_history's manager
        if user_id is not None:
            rows = rows.filter(history_user_id=user_id)
        parts.append(
            rows.annotate(model=Value(label, output_field=CharField()))
            .values("history_id", "history_date", "history_user_id", "history_type", "id", "model")
            .order_by()
        )
    first, *rest = parts
    rows = first.union(*rest, all=True) if rest else first
    return rows.order_by("-history_date", "-history_id")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    when: Any
    model: str
    object_id: int
    object_label: str
    action: str
    user: Any
    fields: list[FieldChange]
    note: str = ""


def describe(rows: list[dict]) -> list[Change]:
    """What each history row on a page changed, in the same order: one query per model for the rows,
    one per row for the row before it (a page is bounded, so this is too)."""
    by_model: dict[str, list[int]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row["history_id"])
    records = {}
    for label, ids in by_model.items():
        history = audited_model(label).history.select_related("history_user")  # type: ignore[attr-defined]
        for record in history.filter(history_id__in=ids):
            records[(label, record.history_id)] = record
    return [_change(row["model"], records[(row["model"], row["history_id"])]) for row in rows]


def _change(label: str, record) -> Change:
    model = audited_model(label)
    note = ""
    if record.history_type == "~":
        previous = record.prev_record
        if previous is None:
            fields, note = _fields_of(model, record), "the first recorded state"
        else:
            delta = record.diff_against(previous)
            fields = [_field_change(model, c.field, c.old, c.new) for c in delta.changes]
            if not fields:
                note = "saved without a change"
    elif record.history_type == "+":
        fields = _fields_of(model, record)
    else:
        fields = []
        note = record.history_change_reason or ""  # a merge says so: "merged into “Acme Leads” by jane"
    return Change(
        when=record.history_date,
        model=str(model._meta.verbose_name),
        object_id=record.id,
        object_label=_label(record),
        action=ACTIONS.get(record.history_type, record.history_type),
        user=record.history_user,
        fields=fields,
        note=note,
    )


def _label(record) -> str:
    try:
        return str(record.instance)[:MAX_VALUE]
    except Exception:  # a __str__ that follows a relation whose row is gone  # noqa: BLE001
        return f"#{record.id}"


def _fields_of(model: type[Model], record) -> list[FieldChange]:
    """A created row's values, as changes from nothing (empty ones left out)."""
    found = []
    for field in record.instance_type._meta.fields:
        name = field.attname if field.is_relation else field.name
        if field.name in BOOKKEEPING or not hasattr(record, name):
            continue
        value = getattr(record, name)
        if value not in (None, "", [], {}):
            found.append(_field_change(model, field.name, None, value))
    for field in getattr(record, "_history_m2m_fields", []):
        values = [getattr(r, field.m2m_reverse_field_name()) for r in getattr(record, field.name).all()]
        if values:
            found.append(_field_change(model, field.name, [], values))
    return found


def _field_change(model: type[Model], name: str, old: Any, new: Any) -> FieldChange:
    if name in UNSHOWN_FIELDS:
        return FieldChange(name, "(hidden)" if old else "—", "(hidden)" if new else "—")
    return FieldChange(name, _shown(model, name, old), _shown(model, name, new))


def _shown(model: type[Model], name: str, value: Any) -> str:
    """A value as a reader knows it: related rows by name (a role's permissions, a user's groups)."""
    if value is None or value == "":
        return "—"
    field = model._meta.get_field(name)
    if field.is_relation:
        ids = [_m2m_target(v, field) for v in value] if field.many_to_many else [getattr(value, "pk", value)]
        assert field.related_model is not None and not isinstance(field.related_model, str)
        related = field.related_model._default_manager.in_bulk([i for i in ids if i is not None])
        names = sorted(str(related.get(i, f"#{i}")) for i in ids)
        return (", ".join(names) or "—")[:MAX_VALUE]
    return str(value)[:MAX_VALUE]


def _m2m_target(value: Any, field) -> Any:
    """diff_against gives m2m rows as dicts {source: id, target: id}; a created row gives target objects."""
    if isinstance(value, dict):
        return value.get(field.m2m_reverse_field_name()) or value.get(field.related_model._meta.model_name)
    return getattr(value, "pk", value)


# The API-call log's chain check, bounded: run in the background on request, the last result shown.


def last_verification() -> ApiLogVerification | None:
    return ApiLogVerification.objects.select_related("requested_by").first()


def request_verification(user: Actor) -> tuple[ApiLogVerification, bool]:
    """Queue a walk of the chain unless one is already queued or running; (verification, queued now)."""
    since = timezone.now() - VERIFICATION_STALE
    pending = ApiLogVerification.objects.filter(
        state__in=[ApiLogVerification.State.QUEUED, ApiLogVerification.State.RUNNING], requested_at__gte=since
    ).first()
    if pending is not None:
        return pending, False
    verification = ApiLogVerification.objects.create(requested_by=signed_in(user))
    verify_api_log.enqueue(verification.pk)
    verification.refresh_from_db()
    return verification, True


def run_verification(
    verification: ApiLogVerification, *, expect: tuple[int, str] | None = None
) -> Verification:
    """Walk the whole chain (certificates.apilog.verify), store what it found on `verification`, and
    return the result (with the head as `SEQ:HASH`, to keep elsewhere)."""
    verification.state = ApiLogVerification.State.RUNNING
    verification.save(update_fields=["state"])
    try:
        result = verify(expect=expect)
    except Exception as exc:
        verification.state, verification.problem = ApiLogVerification.State.FAILED, str(exc)[:500]
        verification.finished_at = timezone.now()
        verification.save()
        raise
    verification.state = ApiLogVerification.State.INTACT if result.intact else ApiLogVerification.State.BROKEN
    if not result.intact:
        raise_alert(
            Alert.Event.API_LOG_BROKEN,
            severity=Alert.Severity.CRITICAL,
            summary=f"The API-call log does not verify: {result.problem}"[:500],
            details={"rows": result.rows},
            path=reverse("audit"),
        )
    verification.rows, verification.problem = result.rows, result.problem
    verification.head_hash = result.head_hash
    verification.finished_at = timezone.now()
    verification.save()
    return result


@task()
def verify_api_log(verification_id: int) -> dict[str, Any]:
    """Walk the API-call log's hash chain for a verification an admin asked for (idempotent)."""
    verification = ApiLogVerification.objects.filter(
        pk=verification_id, state=ApiLogVerification.State.QUEUED
    ).first()
    if verification is None:
        return {"skipped": verification_id}
    result = run_verification(verification)
    return {"state": verification.state, "rows": result.rows}
