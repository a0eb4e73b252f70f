from django.contrib import admin

from certificates.models import AccountStatus, ApiCall, Certificate, CheckIn, Claim, Vendor


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence is never edited or deleted through the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    """Read-only for everyone, superusers included: state, claim, lease and outcome move only through
    claiming (a claimed certificate set back to pending would be claimed, and billed, again), and the
    lead was validated and normalised at intake, which an edit here would bypass."""

    list_display = ["cert_id", "vendor", "state", "outcome", "claim_deadline", "received_at"]
    list_filter = ["state", "outcome", "vendor"]
    search_fields = ["cert_id", "reference", "email_normalised", "phone_normalised"]
    show_full_result_count = False


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = ["certificate", "outcome", "reason", "created_at"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ["certificate", "created_at", "extended_until"]


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    """Read-only, like the model itself (append-only, hash-chained: `manage.py verify_api_log`)."""

    list_display = ["seq", "created_at", "operation", "status", "outcome", "duration_ms", "trigger"]
    list_filter = ["operation", "outcome"]
    show_full_result_count = False


@admin.register(AccountStatus)
class AccountStatusAdmin(admin.ModelAdmin):
    list_display = ["claiming_paused", "paused_reason", "paused_at"]
