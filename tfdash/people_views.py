"""The People pages (admins): everyone's account and role, invitations, deactivation."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from certificates.paginators import Paginator
from tfdash import people
from tfdash.forms import InviteForm, RoleForm
from tfdash.tables import PeopleTable

PERMISSION = "auth.change_user"


def _admin(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # the permission check let only a signed-in user through
    return request.user


@permission_required(PERMISSION, raise_exception=True)
def people_list(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invited = people.invite(**form.cleaned_data, by=_admin(request))
        except people.PeopleError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Invited {invited.email} as {form.cleaned_data['role']}: the link is on its way."
            )
            return redirect("people")
    table = PeopleTable(User.objects.prefetch_related("groups"))
    RequestConfig(request, paginate={"per_page": 100, "paginator_class": Paginator}).configure(table)
    status = 400 if form.errors else 200
    ctx = {"page": "people", "table": table, "form": form, "days": settings.PASSWORD_RESET_TIMEOUT // 86400}
    return render(request, "people/people.html", ctx, status=status)


@permission_required(PERMISSION, raise_exception=True)
def person(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    ctx = {
        "page": "people",
        "person": user,
        "role": people.role_of(user),
        "form": RoleForm(initial={"role": people.role_of(user)}),
    }
    return render(request, "people/person.html", ctx)


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def change(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One change to an account: role, deactivate, reactivate, or a new password link."""
    user = get_object_or_404(User, pk=pk)
    by = _admin(request)
    try:
        if action == "role":
            form = RoleForm(request.POST)
            if not form.is_valid():
                raise people.PeopleError("Choose one of the roles.")
            people.set_role(user, form.cleaned_data["role"], by=by)
            messages.success(request, f"{user} is now {form.cleaned_data['role']}.")
        elif action == "deactivate":
            people.deactivate(user, by=by)
            messages.success(
                request, f"Deactivated {user}: signed out at their next request, kept in every record."
            )
        elif action == "reactivate":
            people.reactivate(user, by=by)
            messages.success(request, f"Reactivated {user}.")
        elif action == "reset":
            people.send_password_reset(user, by=by)
            messages.success(request, f"Sent {user.email} a link to choose a new password.")
    except people.PeopleError as exc:
        messages.error(request, str(exc))
    return redirect("person", pk=user.pk)
