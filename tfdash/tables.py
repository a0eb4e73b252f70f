from datetime import datetime

import django_tables2 as tables
from django.contrib.auth.models import User
from django.utils.html import format_html, format_html_join

from certificates.templatetags.tfdash_format import when
from tfdash.people import role_of


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
        return when(value, "seconds")

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


class PeopleTable(tables.Table):
    """Every account: who, what they may do, whether they can sign in, when they last did."""

    username = tables.Column(verbose_name="User", linkify=("person", {"pk": tables.A("pk")}))
    email = tables.Column(default="—")
    role = tables.Column(accessor="pk", verbose_name="Role", orderable=False)
    is_active = tables.Column(verbose_name="Account")
    last_login = tables.Column(verbose_name="Last signed in", default="never")
    date_joined = tables.Column(verbose_name="Joined")

    class Meta:
        attrs = {"class": "table", "data-testid": "people"}
        order_by = ("username",)
        empty_text = "No one yet."

    def render_role(self, record: User) -> str:
        return role_of(record) or "no role"

    def render_is_active(self, value: bool) -> str:
        return "active" if value else "deactivated"

    def render_last_login(self, value: datetime) -> str:
        return when(value)

    def render_date_joined(self, value: datetime) -> str:
        return when(value)
