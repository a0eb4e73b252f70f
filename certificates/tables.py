from datetime import datetime
from html import escape

import django_tables2 as tables
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeData, SafeString

from certificates.masking import contact_as, may_see_contact
from certificates.models import Certificate, Vendor
from certificates.templatetags.tfdash_format import when

# The badge columns' labels, as get_FOO_display gives them: it rebuilds a dict of the choices per call.
STATE_LABELS = dict(Certificate.State.choices)
OUTCOME_LABELS = dict(Certificate.Outcome.choices)
REVIEW_LABELS = dict(Certificate.ReviewStatus.choices)


def short_datetime(value: datetime) -> str:
    """`Nov 5, 14:07 UTC` in the site's time zone: the one format of times on every page."""
    return when(value)


def _badge(css: str, value: str, label: object) -> SafeString:
    # The standard library's escape in an f-string, as format_html would escape, at a third of its cost:
    # the list renders three badges a row (tests/test_workspace_list.py compares with django-tables2's).
    return SafeString(f'<span class="badge {css}{escape(value)}">{escape(str(label))}</span>')


def _cell(value: object) -> str:
    """A cell's HTML: render_* results are safe already, anything else is escaped (conditional_escape)."""
    return str(value) if isinstance(value, SafeData) else escape(str(value))


class LeadColumn:
    """The lead column of the certificate tables, masked for roles without the contact permission."""

    def sees_contact(self) -> bool:
        """Whether the request's user sees contacts in full: checked once per table, not twice a row."""
        user = getattr(getattr(self, "request", None), "user", None)
        checked = self.__dict__.get("_sees_contact")
        if checked is None or checked[0] is not user:
            checked = self._sees_contact = (user, may_see_contact(user))
        return checked[1]

    def render_lead(self, record: Certificate) -> str:
        # A table without a request shows masked values.
        in_full = self.sees_contact()
        email = contact_as(record.lead_email, "email", in_full) or "—"
        phone = contact_as(record.lead_phone, "phone", in_full)
        return SafeString(f'{escape(email)}<br><span class="muted small">{escape(phone)}</span>')


class CertificateTable(LeadColumn, tables.Table):
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

    # The columns rows_html and failed_checks read: the list page loads these, not all of a certificate's
    # 35 (a fifth of the rows' time); the query-count test catches a column read without being loaded.
    ROW_FIELDS = (
        *("cert_id", "vendor", "vendor__name", "reference", "lead_email", "lead_phone", "state"),
        *("outcome", "outcome_reason", "fingerprint_result", "scan_success", "bot_detected", "is_masked"),
        *("reused", "review_status", "claim_deadline", "received_at"),
    )

    def rows_html(self) -> SafeString:
        """This page's rows, built straight from the render_* methods below.

        Written by hand because django-tables2 resolves every cell through accessors, signature
        inspection and attribute objects: two thirds of the list page's time (bench/list_pages.py:
        190 ms a page before, 60 ms after). django-tables2 still does the headers, sorting, paging and
        the empty text; tests/test_workspace_list.py checks that both render the same rows.
        """
        # One reverse() per page: the detail URL with a marker for the primary key.
        detail_url = [escape(part) for part in reverse("certificates:detail", args=[0]).rsplit("0", 1)]
        selectable = self.columns["select"].visible
        rows = []
        for index, row in enumerate(self.paginated_rows):
            record = row.record
            select = f"<td>{self.render_select(record)}</td>" if selectable else ""
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
            tds = "".join([f"<td>{_cell(cell)}</td>" for cell in cells])
            rows.append(
                f'<tr class="{"odd" if index % 2 else "even"}">{select}<td class="mono"><a href="'
                f'{detail_url[0]}{record.pk}{detail_url[1]}">{escape(self.render_cert_id(record.cert_id))}'
                f"</a></td>{tds}</tr>"
            )
        return SafeString("\n".join(rows))  # every cell above is escaped or built by format_html/_badge

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

    def render_state(self, record: Certificate) -> str:
        return _badge("badge-", record.state, STATE_LABELS.get(record.state, record.state))

    def render_outcome(self, record: Certificate) -> str:
        if not record.outcome:
            return "—"
        return _badge("badge-", record.outcome, OUTCOME_LABELS.get(record.outcome, record.outcome))

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
        label = REVIEW_LABELS.get(record.review_status, record.review_status)
        return _badge("badge-review-", record.review_status, label)


DECIDE = '<span data-action="decide">{}</span>'
# Why an unclaimed certificate is in the review queue, in a few words (the reason follows).
UNCLAIMED_WHY = {
    Certificate.State.ERROR: "not claimable",
    Certificate.State.EXPIRED: "expired before it was claimed",
    Certificate.State.HELD: "on hold",
    Certificate.State.CANCELLED: "cancelled",
}


class ReviewQueueTable(LeadColumn, tables.Table):
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
