from django.contrib import admin

from scanning.models import ScanProfile, ScanTemplate, ScanTerm, VendorScanProfile


@admin.register(ScanTerm)
class ScanTermAdmin(admin.ModelAdmin):
    list_display = ["text", "kind", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["text", "note"]


@admin.register(ScanTemplate)
class ScanTemplateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "delimiter", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "text", "note"]


@admin.register(ScanProfile)
class ScanProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "delimiter", "updated_at"]
    search_fields = ["name"]
    filter_horizontal = ["terms", "templates"]


@admin.register(VendorScanProfile)
class VendorScanProfileAdmin(admin.ModelAdmin):
    list_display = ["vendor", "profile", "assigned_at"]
    raw_id_fields = ["vendor"]
