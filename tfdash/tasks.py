"""django.tasks entry points of the audit trail."""

from django.tasks import task

from tfdash import audit
from tfdash.models import ApiLogVerification


@task()
def verify_api_log(verification_id: int) -> dict:
    """Walk the API-call log's hash chain for a verification an admin asked for (idempotent)."""
    verification = ApiLogVerification.objects.filter(
        pk=verification_id, state=ApiLogVerification.State.QUEUED
    ).first()
    if verification is None:
        return {"skipped": verification_id}
    result = audit.run_verification(verification)
    return {"state": verification.state, "rows": result.rows}
