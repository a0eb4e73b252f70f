import django_tables2 as tables
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join


class AuditTable(tables.Table):
    """Recent changes across the audited models. Rows are the UNION of their history tables (see
    tfdash.audit); the view describes each row on the page into `change` before rendering."""

    when = tables.Column(accessor="history_date", verbose_name="When")
    user = tables.Column(accessor="change", verbose_name="Who", empty_values=())
    what = tables.Column(accessor="change", verbose_name="What", empty_values=())
    changes = tables.Column(accessor="change", verbose_name="Changes", empty_values=())

    class Meta:
        orderable = False  # the UNION is ordered by time only
        attrs = {"class": "table table-audit", "data-testid": "audit-table"}
        empty_text = "No recorded change matches."

    def render_when(self, value) -> str:
        return dateformat.format(timezone.localtime(value), "Y-m-d H:i:s")

    def render_user(self, value) -> str:
        return str(value.user) if value.user else "system (a command or the worker)"

    def render_what(self, value) -> str:
        return format_html(
            '{} <span class="badge">{}</span><br><span class="muted small">{} #{}</span>',
            value.object_label,
            value.action,
            value.model,
            value.object_id,
        )

    def render_changes(self, value) -> str:
        if not value.fields:
            return format_html('<span class="muted">{}</span>', value.note or "—")
        lines = format_html_join(
            "",
            '<li><span class="mono">{}</span>: {} → {}</li>',
            ((f.field, f.old, f.new) for f in value.fields),
        )
        note = format_html('<span class="muted small">{}</span>', value.note) if value.note else ""
        return format_html('{}<ul class="plain changes">{}</ul>', note, lines)
