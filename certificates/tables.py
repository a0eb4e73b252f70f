from datetime import datetime

import django_tables2 as tables
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from certificates.masking import shown_contact
from certificates.models import Certificate, Vendor
from certificates.templatetags.tfdash_format import when


def short_datetime(value: datetime) -> str:
    """`Nov 5, 14:07 UTC` in the site's time zone: the one format of times on every page."""
    return when(value)


class CertificateTable(tables.Table):
    """The certificate list. Only indexed columns sort, each with the primary key as a tiebreaker."""

    # Ticked rows are claimed by the "Claim selected" form (outside the table: the inputs name it).
    select = tables.Column(empty_values=(), verbose_name="", orderable=False)
    cert_id = tables.Column(
        linkify=True, verbose_name="Certificate", order_by=("cert_id",), attrs={"td": {"class": "mono"}}
    )
    vendor = tables.Column(accessor="vendor__name", verbose_name="Vendor", orderable=False)
    reference = tables.Column(orderable=False, default="—")
    lead = tables.Column(empty_values=(), verbose_name="Lead", orderable=False)
    state = tables.Column(orderable=False)
    outcome = tables.Column(orderable=False, empty_values=())
    checks = tables.Column(empty_values=(), verbose_name="Checks", orderable=False)
    review_status = tables.Column(verbose_name="Review", orderable=False, empty_values=())
    # Plain columns with a formatting method: DateTimeColumn compiles a template for every cell.
    claim_deadline = tables.Column(verbose_name="Deadline", order_by=("claim_deadline", "id"))
    received_at = tables.Column(verbose_name="Received", order_by=("received_at", "id"))

    class Meta:
        model = Certificate
        fields = (
            "select",
            "cert_id",
            "vendor",
            "reference",
            "lead",
            "state",
            "outcome",
            "checks",
            "review_status",
            "claim_deadline",
            "received_at",
        )
        order_by = ("-received_at",)
        attrs = {"class": "table table-certificates"}
        empty_text = "No certificates match these filters."
        template_name = "certificates/_certificate_table.html"

    def rows_html(self) -> SafeString:
        """This page's rows, built straight from the render_* methods below.

        Written by hand because django-tables2 resolves every cell through accessors, signature
        inspection and attribute objects: two thirds of the list page's time (bench/list_pages.py:
        190 ms a page before, 60 ms after). django-tables2 still does the headers, sorting, paging and
        the empty text; tests/test_workspace_list.py checks that both render the same rows.
        """
        # One reverse() per page: the detail URL with a marker for the primary key.
        detail_url = reverse("certificates:detail", args=[0]).rsplit("0", 1)
        selectable = self.columns["select"].visible
        rows = []
        for index, row in enumerate(self.paginated_rows):
            record = row.record
            select = f"<td>{self.render_select(record)}</td>" if selectable else ""
            link = format_html(
                '<td class="mono"><a href="{}{}{}">{}</a></td>',
                detail_url[0],
                record.pk,
                detail_url[1],
                self.render_cert_id(record.cert_id),
            )
            cells = (
                record.vendor.name,
                record.reference or "—",
                self.render_lead(record),
                self.render_state(record),
                self.render_outcome(record),
                self.render_checks(record),
                self.render_review_status(record),
                self.render_claim_deadline(record.claim_deadline),
                self.render_received_at(record.received_at),
            )
            parity = "odd" if index % 2 else "even"
            tds = "".join(f"<td>{conditional_escape(cell)}</td>" for cell in cells)
            rows.append(f'<tr class="{parity}">{select}{link}{tds}</tr>')
        return mark_safe("\n".join(rows))  # noqa: S308 -- every cell above is escaped or format_html

    def before_render(self, request: HttpRequest) -> None:
        if not request.user.has_perm("certificates.claim_certificate"):
            self.columns.hide("select")

    def render_select(self, record: Certificate) -> str:
        if record.state != Certificate.State.PENDING:
            return ""
        return format_html(
            '<input type="checkbox" name="certificates" value="{}" form="claim-selected" aria-label="Select {}">',
            record.pk,
            record.cert_id[:8],
        )

    def render_cert_id(self, value: str) -> str:
        return f"{value[:8]}…" if len(value) > 10 else value

    def render_claim_deadline(self, value: datetime) -> str:
        return short_datetime(value)

    def render_received_at(self, value: datetime) -> str:
        return short_datetime(value)

    def render_lead(self, record: Certificate) -> str:
        # Masked for roles without the contact permission; a table without a request shows masked values.
        user = getattr(getattr(self, "request", None), "user", None)
        return format_html(
            '{}<br><span class="muted small">{}</span>',
            shown_contact(record.lead_email, "email", user) or "—",
            shown_contact(record.lead_phone, "phone", user),
        )

    def render_state(self, record: Certificate) -> str:
        return format_html('<span class="badge badge-{}">{}</span>', record.state, record.get_state_display())

    def render_outcome(self, record: Certificate) -> str:
        if not record.outcome:
            return "—"
        return format_html(
            '<span class="badge badge-{}">{}</span>', record.outcome, record.get_outcome_display()
        )

    def render_checks(self, record: Certificate) -> str:
        """The failed checks as short flags, then a legal hold and a revocation (the list's queryset
        annotates `on_hold` and `revoked`); a clean certificate shows none."""
        flags = [check.flag for check in record.failed_checks() if check.key != "failure"]
        marks = [
            m
            for m, on in (
                ("legal hold", getattr(record, "on_hold", False)),
                ("consent revoked", getattr(record, "revoked", False)),
            )
            if on
        ]
        if not flags and not marks:
            return "—"
        return format_html_join(
            " ",
            '<span class="flag{}">{}</span>',
            [("", f) for f in flags] + [(" flag-mark", m) for m in marks],
        )

    def render_review_status(self, record: Certificate) -> str:
        if not record.review_status:
            return "—"
        return format_html(
            '<span class="badge badge-review-{}">{}</span>',
            record.review_status,
            record.get_review_status_display(),
        )


DECIDE = '<span data-action="decide">{}</span>'
# Why an unclaimed certificate is in the review queue, in a few words (the reason follows).
UNCLAIMED_WHY = {
    Certificate.State.ERROR: "not claimable",
    Certificate.State.EXPIRED: "expired before it was claimed",
    Certificate.State.HELD: "on hold",
    Certificate.State.CANCELLED: "cancelled",
}


class ReviewQueueTable(tables.Table):
    """What waits for a decision, oldest first (Certificate.objects.needing_review); each row says why it needs a human
    and what they can do about it."""

    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "td__input": {"name": "certificates", "class": "row-select", "aria-label": "Select"},
            "th__input": {"class": "select-all", "aria-label": "Select all"},
        },
    )
    cert_id = tables.Column(linkify=True, verbose_name="Certificate", attrs={"td": {"class": "mono"}})
    vendor = tables.Column(accessor="vendor__name", verbose_name="Vendor")
    lead = tables.Column(empty_values=(), verbose_name="Lead")
    why = tables.Column(empty_values=(), verbose_name="Why it is here")
    action = tables.Column(empty_values=(), verbose_name="What you can do")
    received_at = tables.Column(verbose_name="Received")

    class Meta:
        model = Certificate
        fields = ("select", "cert_id", "vendor", "lead", "why", "action", "received_at")
        orderable = False
        attrs = {"class": "table table-review", "id": "review-queue"}
        row_attrs = {
            "data-pk": lambda record: record.pk,
            "data-state": lambda record: record.state,
            "class": "review-row",
        }
        empty_text = "Nothing to review. Every failed check and every unclaimed certificate has a decision."

    render_cert_id = CertificateTable.render_cert_id
    render_lead = CertificateTable.render_lead
    render_received_at = CertificateTable.render_received_at

    def render_why(self, record: Certificate) -> str:
        reasons = []
        if (why := UNCLAIMED_WHY.get(Certificate.State(record.state))) is not None:
            reasons.append(f"{why}: {record.state_reason or 'no reason recorded'}")
        reasons += [check.reason for check in record.failed_checks()]
        return format_html_join("", "<div>{}</div>", ((r,) for r in reasons)) or "—"

    def render_action(self, record: Certificate) -> str:
        url = record.get_absolute_url()
        if record.state == Certificate.State.HELD:
            return format_html(
                '<a href="{}#correct-lead" data-action="correct">Correct the lead</a>'
                '<div class="muted small">it is claimed at once; or reject it if the data cannot be found</div>',
                url,
            )
        if record.state == Certificate.State.CANCELLED:
            return format_html(
                '<a href="{}" data-action="open">Open the certificate</a>'
                '<div class="muted small">or accept that it is not claimed</div>',
                url,
            )
        if record.state in (Certificate.State.ERROR, Certificate.State.EXPIRED):
            return format_html(
                DECIDE, "Accept (we accept losing its evidence) or reject the lead, with a note"
            )
        return format_html(DECIDE, "Accept or reject, with a note")


class VendorTable(tables.Table):
    name = tables.Column(linkify=("reports:vendor", {"pk": tables.A("pk")}), verbose_name="Vendor")
    created_at = tables.Column(verbose_name="Added")
    edit = tables.LinkColumn(
        "certificates:vendor",
        args=[tables.A("pk")],
        text="Rename",
        empty_values=(),
        orderable=False,
        verbose_name="",
    )

    class Meta:
        model = Vendor
        fields = ("name", "created_at")
        attrs = {"class": "table"}
        empty_text = "No vendors yet: they are added by imports and claims, or here."

    def render_created_at(self, value: datetime) -> str:
        return short_datetime(value)
