"""The user admin: admins manage users and their roles, but only a superuser grants more than a role gives."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest

# Superuser status holds every permission, staff status opens /admin/, and user permissions grant any
# single permission outside the roles: an admin who could tick them could give themselves anything.
ESCALATING_FIELDS = ("is_superuser", "is_staff", "user_permissions")

admin.site.unregister(User)


@admin.register(User)
class RoleUserAdmin(UserAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return readonly
        # Read-only fields are left out of the form, so a crafted POST cannot set them either.
        return readonly + ESCALATING_FIELDS

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # Setting a superuser's password or email would hand over the account, and with it everything.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)
