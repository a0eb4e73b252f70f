"""The audit trail's own pieces: history for users and roles, and the API-call log's verifications.

The history tables of the other audited models live beside them (certificates, scanning); users and groups
belong to django.contrib.auth, so their history tables are registered here, in tfdash's migrations.
"""

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import models
from django.utils import timezone
from simple_history import register

# A password hash never enters the history, readable or not; last_login changes on every log-in (axes
# keeps the log-in log), so it would only add noise.
register(User, app="tfdash", excluded_fields=["password", "last_login"], m2m_fields=["groups"])
register(Group, app="tfdash", m2m_fields=["permissions"])


class ApiLogVerification(models.Model):
    """One walk of the API-call log's hash chain (certificates.apilog.verify), from the audit page or
    `manage.py verify_api_log`. The page shows the last one instead of walking a million rows per view."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Checking"
        INTACT = "intact", "Intact"
        BROKEN = "broken", "Broken"
        FAILED = "failed", "Could not finish"

    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trigger = models.CharField(max_length=32, default="web")  # "web" or "command"
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows = models.BigIntegerField(default=0)
    problem = models.TextField(blank=True)
    head_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("view_audit", "Can read the audit trail and verify the API-call log")]

    def __str__(self) -> str:
        return f"API-log verification {self.pk} ({self.state})"

    @property
    def pending(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)
