"""The API-call log as a table."""

from datetime import datetime

import django_tables2 as tables

from certificates.apilog.models import ApiCall
from certificates.templatetags.tfdash_format import when


class ApiCallTable(tables.Table):
    created_at = tables.Column(verbose_name="When")
    certificate = tables.Column(linkify=True, accessor="certificate__cert_id", verbose_name="Certificate")
    triggered_by = tables.Column(verbose_name="By", default="")

    class Meta:
        model = ApiCall
        fields = (
            "created_at",
            "operation",
            "method",
            "certificate",
            "api_version",
            "status",
            "outcome",
            "duration_ms",
            "trigger",
            "triggered_by",
            "error",
        )
        order_by = ("-created_at",)
        attrs = {"class": "table"}
        empty_text = "No API calls yet."

    def render_created_at(self, value: datetime) -> str:
        return when(value, "seconds")

    def render_certificate(self, value: str) -> str:
        return f"{value[:12]}…"
