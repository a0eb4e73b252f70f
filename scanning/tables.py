"""The editor's lists: terms, templates and profiles."""

import django_tables2 as tables
from django.utils.html import format_html

from scanning.meaning import v4_meaning
from scanning.models import ScanProfile, ScanTemplate, ScanTerm


def _kind_badge(value: str) -> str:
    return format_html('<span class="badge badge-scan-{}">{}</span>', value, value.capitalize())


class ScanTermTable(tables.Table):
    text = tables.Column(linkify=True, verbose_name="Term", attrs={"td": {"class": "scan-text"}})
    kind = tables.Column(verbose_name="Kind")
    profiles = tables.Column(empty_values=(), orderable=False, verbose_name="In profiles")
    note = tables.Column(orderable=False, default="")
    updated_at = tables.DateTimeColumn(verbose_name="Changed", format="M j, Y")

    class Meta:
        model = ScanTerm
        fields = ("text", "kind", "profiles", "note", "updated_at")
        attrs = {"class": "table table-scanning"}
        empty_text = "No terms yet."

    def render_kind(self, value: str) -> str:
        return _kind_badge(value)

    def render_profiles(self, record: ScanTerm) -> str:
        return ", ".join(p.name for p in record.profiles.all()) or "—"

    def value_profiles(self, record: ScanTerm) -> str:
        return ", ".join(p.name for p in record.profiles.all())


class ScanTemplateTable(tables.Table):
    name = tables.Column(linkify=True, empty_values=(), verbose_name="Template", order_by=("name", "id"))
    text = tables.Column(orderable=False, attrs={"td": {"class": "scan-text"}})
    kind = tables.Column(verbose_name="Kind")
    rows = tables.Column(empty_values=(), orderable=False, verbose_name="Value rows")
    profiles = tables.Column(empty_values=(), orderable=False, verbose_name="In profiles")
    updated_at = tables.DateTimeColumn(verbose_name="Changed", format="M j, Y")

    class Meta:
        model = ScanTemplate
        fields = ("name", "text", "kind", "rows", "profiles", "updated_at")
        attrs = {"class": "table table-scanning"}
        empty_text = "No templates yet."

    def render_name(self, record: ScanTemplate) -> str:
        return record.name or f"Template {record.pk}"

    def render_kind(self, value: str) -> str:
        return _kind_badge(value)

    def render_rows(self, record: ScanTemplate) -> int:
        return len(record.variables)

    def render_profiles(self, record: ScanTemplate) -> str:
        return ", ".join(p.name for p in record.profiles.all()) or "—"

    def value_profiles(self, record: ScanTemplate) -> str:
        return ", ".join(p.name for p in record.profiles.all())


class ScanProfileTable(tables.Table):
    name = tables.Column(linkify=True, verbose_name="Profile")
    delimiter = tables.Column(orderable=False, default="{{ }}", attrs={"td": {"class": "mono"}})
    required = tables.Column(empty_values=(), orderable=False, verbose_name="Required")
    forbidden = tables.Column(empty_values=(), orderable=False, verbose_name="Forbidden")
    vendors = tables.Column(empty_values=(), orderable=False, verbose_name="Vendors")
    v4 = tables.Column(empty_values=(), orderable=False, verbose_name="In API v4")
    updated_at = tables.DateTimeColumn(verbose_name="Changed", format="M j, Y")

    class Meta:
        model = ScanProfile
        fields = ("name", "delimiter", "required", "forbidden", "vendors", "v4", "updated_at")
        attrs = {"class": "table table-scanning"}
        empty_text = "No profiles yet: a vendor without one is claimed without a page scan."

    def _count(self, record: ScanProfile, kind: str) -> int:
        return sum(m.kind == kind for m in [*record.terms.all(), *record.templates.all()])

    def render_required(self, record: ScanProfile) -> int:
        return self._count(record, "required")

    def render_forbidden(self, record: ScanProfile) -> int:
        return self._count(record, "forbidden")

    def render_vendors(self, record: ScanProfile) -> str:
        return ", ".join(a.vendor.name for a in record.assignments.all()) or "—"

    def value_vendors(self, record: ScanProfile) -> str:
        return ", ".join(a.vendor.name for a in record.assignments.all())

    def render_v4(self, record: ScanProfile) -> str:
        meaning = v4_meaning(record)
        if not meaning.differs:
            return "Same as v3"
        if meaning.acknowledged:
            return format_html('<span title="{}">Differs: confirmed</span>', " ".join(meaning.sentences))
        return format_html(
            '<span class="badge badge-failure" title="{}" data-testid="v4-unconfirmed">Differs: not confirmed</span>',
            " ".join(meaning.sentences),
        )
