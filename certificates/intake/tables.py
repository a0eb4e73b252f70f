"""The intake pages' tables: import batches, and the rows a batch rejected."""

from datetime import datetime

import django_tables2 as tables
from django.utils.html import format_html

from certificates.intake.models import ImportBatch, ImportRowError
from certificates.masking import shown_contact
from certificates.templatetags.tfdash_format import when

CONTACT_FIELDS = ("email", "phone")


class ImportBatchTable(tables.Table):
    created_at = tables.Column(verbose_name="Imported")
    source = tables.Column()
    filename = tables.Column(verbose_name="From")
    created_by = tables.Column(verbose_name="By", default="—")
    cancelled_at = tables.Column(verbose_name="Cancelled", default="")

    class Meta:
        model = ImportBatch
        fields = (
            "created_at",
            "source",
            "filename",
            "created_by",
            "total_rows",
            "accepted",
            "duplicates",
            "reused",
            "rejected",
            "cancelled_at",
        )
        order_by = ("-created_at",)
        attrs = {"class": "table"}
        empty_text = "Nothing imported yet."

    def render_cancelled_at(self, value: datetime) -> str:
        return when(value)

    def render_created_at(self, record: ImportBatch) -> str:
        return format_html('<a href="{}">{}</a>', record.get_absolute_url(), when(record.created_at))


class RowErrorTable(tables.Table):
    line = tables.Column()
    field = tables.Column(default="(row)")
    value = tables.Column(verbose_name="Value as sent", attrs={"td": {"class": "mono break"}})
    reason = tables.Column()

    class Meta:
        model = ImportRowError
        fields = ("line", "field", "value", "reason")
        order_by = ("line",)
        attrs = {"class": "table", "data-testid": "row-errors"}
        empty_text = "No rejected rows."

    def render_value(self, record: ImportRowError, value: str) -> str:
        if record.field in CONTACT_FIELDS:
            return shown_contact(value, record.field, getattr(getattr(self, "request", None), "user", None))
        return value

    def value_value(self, record: ImportRowError, value: str) -> str:
        # The export masks contacts as the page does; SafeTableExport defuses formulas.
        return self.render_value(record, value)
