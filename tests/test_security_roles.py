"""Who may do what: one table of actions, each allowed from a minimum role up and refused below it.

Each action is tried by every role (and anonymously) on a fresh database: an allowed role gets the page
or the action's redirect, a lower role gets 403, an anonymous visitor the log-in page. Then the JSON
intake API, which takes a token and never a session.
"""

from dataclasses import dataclass, field, replace

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse

from certificates.apilog import models as api_log
from certificates.evidence import packages
from certificates.intake import tokens
from certificates.models import Certificate, EvidenceExport, ImportBatch
from scanning.models import ScanProfile, ScanTemplate, ScanTerm
from tests.factories import make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db

ANONYMOUS, VIEWER, ANALYST, MANAGER, ADMIN = "anonymous", "viewer", "analyst", "manager", "admin"
ROLES = [VIEWER, ANALYST, MANAGER, ADMIN]
RANK = {ANONYMOUS: -1, **{role: n for n, role in enumerate(ROLES)}}


@dataclass
class Action:
    name: str
    url: str  # a URL name; "{x}" arguments are filled from the fixture's objects
    method: str
    minimum: str  # the lowest role allowed; every role above it is allowed too
    args: tuple = ()
    query: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


# fmt: off
ACTIONS = [
    # Reading: every role.
    Action("see the home page", "home", "GET", VIEWER),
    Action("find certificates", "certificates:list", "GET", VIEWER),
    Action("see a certificate", "certificates:detail", "GET", VIEWER, ("certificate",)),
    Action("see import batches", "intake:batches", "GET", VIEWER),
    Action("see a batch", "intake:batch", "GET", VIEWER, ("batch",)),
    Action("follow a batch's progress", "intake:batch-progress", "GET", VIEWER, ("batch",)),
    Action("read scan terms", "scanning:terms", "GET", VIEWER),
    Action("read a scan term", "scanning:term", "GET", VIEWER, ("term",)),
    Action("read scan templates", "scanning:templates", "GET", VIEWER),
    Action("read a scan template", "scanning:template", "GET", VIEWER, ("template",)),
    Action("read scan profiles", "scanning:profiles", "GET", VIEWER),
    Action("read a scan profile", "scanning:profile", "GET", VIEWER, ("profile",)),
    Action("preview a scan", "scanning:preview", "POST", VIEWER, data={"page_text": "I agree", "required": "I agree"}),
    Action("see vendors", "certificates:vendors", "GET", VIEWER),
    Action("read vendor reports", "reports:vendors", "GET", VIEWER),
    Action("read a vendor's report", "reports:vendor", "GET", VIEWER, ("vendor",)),
    Action("read report thresholds", "reports:thresholds", "GET", VIEWER),
    # Analysts: claim, check in, review, import.
    Action("open the claim form", "certificates:claim", "GET", ANALYST),
    Action("claim a certificate", "certificates:claim", "POST", ANALYST, data={"cert_url": "not a url"}),
    Action("claim now", "certificates:claim-now", "POST", ANALYST, ("claimed",)),
    Action("claim selected", "certificates:claim-selected", "POST", ANALYST, data={"certificates": "1"}),
    Action("correct a lead", "certificates:correct-lead", "POST", ANALYST, ("certificate",),
           data={"lead_email": "jo@example.com", "vendor": "Acme"}),
    Action("check in", "certificates:check-in", "POST", ANALYST, ("claimed",)),
    Action("check in all at risk", "intake:check-in-at-risk", "POST", ANALYST),
    Action("open the review queue", "certificates:review-queue", "GET", ANALYST),
    Action("review several", "certificates:review-queue", "POST", ANALYST,
           data={"decision": "accepted", "note": "Checked the page.", "certificates": "{certificate}"}),
    Action("review one", "certificates:review", "POST", ANALYST, ("certificate",),
           data={"decision": "rejected", "note": "Bot traffic."}),
    Action("open the import page", "intake:import", "GET", ANALYST),
    Action("import leads", "intake:import", "POST", ANALYST, data={"text": "https://cert.trustedform.com/abc"}),
    Action("retry a batch", "intake:batch-retry", "POST", ANALYST, ("batch",)),
    Action("cancel a batch", "intake:batch-cancel", "POST", ANALYST, ("batch",)),
    Action("ask to cancel a batch", "intake:batch-cancel", "GET", ANALYST, ("batch",)),
    Action("un-cancel a batch", "intake:batch-uncancel", "POST", ANALYST, ("batch",)),
    # Managers: export, vendors, scan terms, thresholds.
    Action("export certificates as CSV", "certificates:list", "GET", MANAGER, query={"_export": "csv"}),
    Action("export certificates as XLSX", "certificates:list", "GET", MANAGER, query={"_export": "xlsx"}),
    Action("export a batch's rejected rows", "intake:batch", "GET", MANAGER, ("batch",), query={"_export": "csv"}),
    Action("export the vendor report", "reports:vendors", "GET", MANAGER, query={"_export": "csv"}),
    Action("download an evidence package", "certificates:evidence", "GET", MANAGER, ("certificate",)),
    Action("see evidence exports", "certificates:exports", "GET", MANAGER),
    Action("start an evidence export", "certificates:export-start", "POST", MANAGER, data={"query": "state=claimed"}),
    Action("download an evidence export", "certificates:export-download", "GET", MANAGER, ("export",)),
    Action("add a vendor", "certificates:vendor-new", "POST", MANAGER, data={"name": "Brand New Leads"}),
    Action("rename a vendor", "certificates:vendor", "POST", MANAGER, ("vendor",), data={"name": "Renamed"}),
    Action("open a vendor's form", "certificates:vendor", "GET", MANAGER, ("vendor",)),
    Action("ask to merge a vendor", "certificates:vendor-merge", "GET", MANAGER, ("vendor",)),
    Action("merge a vendor", "certificates:vendor-merge", "POST", MANAGER, ("vendor",),
           data={"into": "{other_vendor}", "confirm": "on"}),
    Action("ask to delete a vendor", "certificates:vendor-delete", "GET", MANAGER, ("vendor",)),
    Action("delete a vendor", "certificates:vendor-delete", "POST", MANAGER, ("vendor",)),
    Action("add a scan term", "scanning:term-new", "GET", MANAGER),
    Action("save a scan term", "scanning:term", "POST", MANAGER, ("term",), data={"text": "I agree to be called", "kind": "required"}),
    Action("delete a scan term", "scanning:term-delete", "POST", MANAGER, ("term",)),
    Action("add a scan template", "scanning:template-new", "GET", MANAGER),
    Action("save a scan template", "scanning:template", "POST", MANAGER, ("template",),
           data={"text": "on behalf of {{*}}", "kind": "required"}),
    Action("delete a scan template", "scanning:template-delete", "POST", MANAGER, ("template",)),
    Action("add a scan profile", "scanning:profile-new", "GET", MANAGER),
    Action("save a scan profile", "scanning:profile", "POST", MANAGER, ("profile",), data={"name": "Acme 2"}),
    Action("delete a scan profile", "scanning:profile-delete", "POST", MANAGER, ("profile",)),
    Action("change report thresholds", "reports:thresholds", "POST", MANAGER, data={"form-TOTAL_FORMS": "0"}),
    # Admins: intake tokens, the API-call log, settings, lockouts, the audit trail.
    Action("see intake tokens", "intake:tokens", "GET", ADMIN),
    Action("create an intake token", "intake:tokens", "POST", ADMIN, data={"name": "CRM", "scopes": "leads:write"}),
    Action("revoke an intake token", "intake:token-revoke", "POST", ADMIN, ("token",)),
    Action("read the API-call log", "certificates:api-calls", "GET", ADMIN),
    Action("read an API call", "certificates:api-call", "GET", ADMIN, ("call",)),
    Action("see settings", "settings", "GET", ADMIN),
    Action("resume claiming", "settings-resume", "POST", ADMIN),
    Action("see lockouts", "lockouts", "GET", ADMIN),
    Action("unlock a user", "unlock", "POST", ADMIN, ("lockout",)),
    Action("read the audit trail", "audit", "GET", ADMIN),
    Action("check the API-call log's chain", "audit-verify", "POST", ADMIN),
]
# fmt: on


@pytest.fixture
def objects(settings, tmp_path) -> dict:
    settings.EVIDENCE_EXPORT_DIR = tmp_path
    settings.INTAKE_UPLOAD_DIR = tmp_path / "uploads"
    owner = make_user(ADMIN)
    certificate = make_certificate(email="jane@example.com", phone="5125551212")
    certificate.review_status = Certificate.ReviewStatus.OPEN
    certificate.save()
    claimed = make_certificate()
    Certificate.objects.filter(pk=claimed.pk).update(state=Certificate.State.CLAIMED)
    token, _ = tokens.issue_intake_token(name="lead system", scopes=["leads:read"], user=owner)
    return {
        "certificate": certificate.pk,
        "claimed": claimed.pk,
        "batch": ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="leads.csv").pk,
        "vendor": make_vendor().pk,
        "other_vendor": make_vendor().pk,
        "term": ScanTerm.objects.create(text="I agree").pk,
        "template": ScanTemplate.objects.create(text="on behalf of {{*}}").pk,
        "profile": ScanProfile.objects.create(name="Acme").pk,
        "token": token.pk,
        "call": api_log.append_api_call(
            trigger="web",
            certificate=certificate,
            operation="claim",
            method="POST",
            url="https://x",
            outcome="ok",
        ).pk,
        "lockout": AccessAttempt.objects.create(
            username="someone", ip_address="203.0.113.7", user_agent="", failures_since_start=5
        ).pk,
        # A download is only ever one's own export: each user gets theirs in request() below.
        "export": EvidenceExport.objects.create(created_by=owner).pk,
    }


def request(client, action: Action, objects: dict, user):
    if user is not None and "export" in action.args:
        # Built at once (the tests' task backend runs tasks immediately), so it can be downloaded.
        objects = {**objects, "export": packages.start_evidence_export(user=user, query="").pk}
    url = reverse(action.url, args=[objects[a] for a in action.args])
    data = {k: v.format(**objects) if isinstance(v, str) else v for k, v in action.data.items()}
    if action.method == "GET":
        return client.get(url, action.query)
    return client.post(url, data)


@pytest.mark.parametrize("role", [ANONYMOUS, *ROLES])
@pytest.mark.parametrize("action", ACTIONS, ids=[a.name for a in ACTIONS])
def test_each_action_is_allowed_from_its_role_up_and_refused_below(client, objects, action, role):
    user = None if role == ANONYMOUS else make_user(role)
    if user is not None:
        client.force_login(user)

    response = request(client, action, objects, user)

    if role == ANONYMOUS:
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    elif RANK[role] < RANK[action.minimum]:
        assert response.status_code == 403
    else:
        # The page, its download, the action's redirect, or the form back with its errors: never refused.
        assert response.status_code in (200, 302, 400), response.status_code
        if response.status_code == 302:
            assert not response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "action",
    [a for a in ACTIONS if a.method == "GET" and a.minimum != VIEWER and not a.query],
    ids=lambda a: a.name,
)
def test_posting_to_a_page_a_role_may_not_read_is_refused_too(client, objects, action):
    below = make_user(ROLES[RANK[action.minimum] - 1])
    client.force_login(below)

    response = request(client, replace(action, method="POST"), objects, below)

    assert response.status_code in (403, 405)


def test_the_table_covers_every_role_permission_action():
    """Each role gains something over the one below it, and the table says so."""
    minimums = {a.minimum for a in ACTIONS}

    assert minimums == set(ROLES)
    assert len(ACTIONS) > 50


@pytest.mark.parametrize("role", ROLES)
def test_only_staff_admins_reach_user_management_in_the_django_admin(client, role):
    user = make_user(role)
    user.is_staff = role == ADMIN  # as `manage.py load_demo` sets up the admin
    user.save()
    client.force_login(user)

    users = client.get(reverse("admin:auth_user_changelist"))

    if role == ADMIN:
        assert users.status_code == 200 and user.username in users.content.decode()
    else:
        assert users.status_code == 302 and users["Location"].startswith("/admin/login/")


# The JSON intake API: a token with the right scope, never a session.

LEAD = {
    "cert_url": "https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567",
    "email": "jane@example.com",
    "vendor": "Acme Leads",
}


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.mark.parametrize("role", ROLES)
def test_a_logged_in_session_without_a_token_gets_401_from_the_api(client, role):
    client.force_login(make_user(role))

    pushed = client.post(reverse("api:leads"), LEAD, content_type="application/json")
    read = client.get(reverse("api:lead", args=["0123456789abcdef0123456789abcdef01234567"]))

    assert pushed.status_code == 401 and pushed.json()["error"] == "unauthorized"
    assert read.status_code == 401
    assert not Certificate.objects.exists()


def test_a_token_without_the_scope_gets_403(client):
    _, read_only = tokens.issue_intake_token(name="reader", scopes=["leads:read"])
    _, write_only = tokens.issue_intake_token(name="writer", scopes=["leads:write"])

    pushed = client.post(reverse("api:leads"), LEAD, content_type="application/json", **bearer(read_only))
    read = client.get(
        reverse("api:lead", args=["0123456789abcdef0123456789abcdef01234567"]), **bearer(write_only)
    )

    assert pushed.status_code == 403 and "leads:write" in pushed.json()["reason"]
    assert read.status_code == 403 and "leads:read" in read.json()["reason"]
    assert not Certificate.objects.exists()


def test_a_token_with_the_scopes_pushes_and_reads(client):
    _, raw = tokens.issue_intake_token(name="lead system", scopes=["leads:write", "leads:read"])

    pushed = client.post(reverse("api:leads"), LEAD, content_type="application/json", **bearer(raw))
    read = client.get(pushed.json()["results"][0]["url"], **bearer(raw))

    assert pushed.status_code == 201
    assert read.status_code == 200 and read.json()["vendor"] == "Acme Leads"


def test_a_revoked_token_gets_401(client):
    token, raw = tokens.issue_intake_token(name="old", scopes=["leads:write"])
    tokens.revoke_intake_token(token)

    response = client.post(reverse("api:leads"), LEAD, content_type="application/json", **bearer(raw))

    assert response.status_code == 401


def test_the_api_is_rate_limited_per_token(client, settings):
    settings.INTAKE_RATE_LIMIT = 2
    _, raw = tokens.issue_intake_token(name="busy", scopes=["leads:read"])
    _, other = tokens.issue_intake_token(name="quiet", scopes=["leads:read"])
    url = reverse("api:lead", args=["0123456789abcdef0123456789abcdef01234567"])

    with time_machine.travel("2026-03-02 10:00:05Z", tick=False):  # all within one minute's window
        statuses = [client.get(url, **bearer(raw)).status_code for _ in range(3)]
        limited = client.get(url, **bearer(raw))
        other_token = client.get(url, **bearer(other)).status_code

    assert statuses == [404, 404, 429]
    assert limited.status_code == 429 and limited["Retry-After"] == "55"
    assert other_token == 404
