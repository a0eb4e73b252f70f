import django_tables2 as tables
from django.utils.html import format_html

from certificates.models import ApiCall, Certificate


class CertificateTable(tables.Table):
    cert_id = tables.Column(linkify=True, verbose_name="Certificate")
    vendor = tables.Column(accessor="vendor__name", verbose_name="Vendor", order_by="vendor__name")
    state = tables.Column()
    outcome = tables.Column()
    claim_deadline = tables.DateTimeColumn(verbose_name="Deadline", format="M j, H:i")
    received_at = tables.DateTimeColumn(verbose_name="Received", format="M j, H:i")

    class Meta:
        model = Certificate
        fields = ("cert_id", "vendor", "reference", "state", "outcome", "claim_deadline", "received_at")
        order_by = ("-received_at",)
        attrs = {"class": "table"}
        empty_text = "No certificates yet."

    def render_cert_id(self, value: str) -> str:
        return f"{value[:12]}…" if len(value) > 14 else value

    def render_state(self, record: Certificate) -> str:
        return format_html('<span class="badge badge-{}">{}</span>', record.state, record.get_state_display())

    def render_outcome(self, record: Certificate) -> str:
        return format_html(
            '<span class="badge badge-{}">{}</span>', record.outcome, record.get_outcome_display()
        )


class ApiCallTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="When", format="Y-m-d H:i:s")
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

    def render_certificate(self, value: str) -> str:
        return f"{value[:12]}…"
