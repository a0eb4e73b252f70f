"""Evidence packages built in the background for a filtered set of certificates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EvidenceExport(models.Model):
    """An evidence package for a filtered set of certificates, built in the background."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    query = models.TextField(blank=True, help_text="The certificate-list filter, as a query string.")
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"evidence export {self.pk} ({self.state})"
