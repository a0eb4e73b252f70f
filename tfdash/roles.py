"""The four roles, as Django groups with permissions. Code is the source of truth; the groups are
created by a migration and re-synced after every migrate, so new permissions reach the roles."""

from collections.abc import Iterable

VIEWER = "viewer"
ANALYST = "analyst"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (VIEWER, ANALYST, MANAGER, ADMIN)

_VIEW = [
    "certificates.view_vendor",
    "certificates.view_certificate",
    "certificates.view_claim",
    "certificates.view_checkin",
    "certificates.view_vendordayrollup",  # the vendor reports
    "certificates.view_reportthreshold",
    "certificates.view_alert",
    "scanning.view_scanterm",
    "scanning.view_scantemplate",
    "scanning.view_scanprofile",
]
_ANALYST = [
    "certificates.claim_certificate",
    "certificates.review_certificate",
    "certificates.view_lead_contact",  # viewers see leads' emails and phones masked
    "certificates.record_revocation",
    "certificates.view_legalhold",
]
_MANAGER = [
    "certificates.export_certificate",
    "certificates.add_vendor",
    "certificates.change_vendor",
    "certificates.delete_vendor",  # only one nothing refers to; merging needs it too
    "certificates.add_reportthreshold",
    "certificates.change_reportthreshold",
    "certificates.manage_alert",  # acknowledge alerts
    "certificates.manage_legal_hold",  # place and release holds, open discovery requests
    "scanning.add_scanterm",
    "scanning.change_scanterm",
    "scanning.delete_scanterm",
    "scanning.add_scantemplate",
    "scanning.change_scantemplate",
    "scanning.delete_scantemplate",
    "scanning.add_scanprofile",
    "scanning.change_scanprofile",
    "scanning.delete_scanprofile",
]
_ADMIN = [
    "certificates.view_api_log",
    "certificates.manage_account",
    "certificates.manage_intake_tokens",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
    "tfdash.view_audit",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _VIEW,
    ANALYST: _VIEW + _ANALYST,
    MANAGER: _VIEW + _ANALYST + _MANAGER,
    ADMIN: _VIEW + _ANALYST + _MANAGER + _ADMIN,
}


def sync_roles(group_model, permission_model, roles: Iterable[str] = ROLES) -> None:
    """Create the role groups and give each exactly its permissions (those that exist yet)."""
    for role in roles:
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for perm in ROLE_PERMISSIONS[role]:
            app_label, codename = perm.split(".")
            wanted += list(
                permission_model.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
