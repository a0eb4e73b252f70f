"""People: admins invite colleagues, give and change roles, deactivate and reactivate accounts.

Accounts are never deleted (the API-call log and the audit trail name their users); a deactivated
person is signed out at their next request. Every change is recorded by the audit trail (the user's
history keeps its groups). An invitation is Django's password-reset token: it works once (setting the
password changes what it was made from) and expires after PASSWORD_RESET_TIMEOUT.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tfdash.roles import ADMIN, ROLES


class PeopleError(ValueError):
    """A change tfdash refuses, with a reason fit to show."""


def role_of(user: User) -> str:
    names = {group.name for group in user.groups.all()}
    return next((role for role in reversed(ROLES) if role in names), "")


def password_link(user: User) -> str:
    """The one-time link that lets `user` choose a password (an invitation or a reset)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("password-set", args=[uid, default_token_generator.make_token(user)])
    return settings.TFDASH_BASE_URL.rstrip("/") + path


def _send_link(user: User, *, subject: str, template: str, by: User) -> None:
    context = {
        "user": user,
        "by": by,
        "link": password_link(user),
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        "login": settings.TFDASH_BASE_URL.rstrip("/") + reverse("login"),
    }
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"people/{template}.txt", context), to=[user.email]
    )
    message.send()


@transaction.atomic
def invite(*, email: str, username: str, role: str, by: User) -> User:
    """Create an account with no password yet, give it `role`, and email the link to choose one."""
    email = User.objects.normalize_email(email.strip())
    username = (username or email.split("@", 1)[0]).strip()
    if role not in ROLES:
        raise PeopleError(f"Unknown role {role!r}.")
    if User.objects.filter(username__iexact=username).exists():
        raise PeopleError(f"The user name “{username}” is taken: choose another.")
    if User.objects.filter(email__iexact=email).exists():
        raise PeopleError(f"{email} already has an account: change its role or reactivate it instead.")
    user = User(username=username, email=email)
    user.set_unusable_password()
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    transaction.on_commit(
        lambda: _send_link(user, subject="You are invited to tfdash", template="invitation", by=by)
    )
    return user


@transaction.atomic
def set_role(user: User, role: str, *, by: User) -> None:
    if role not in ROLES:
        raise PeopleError(f"Unknown role {role!r}.")
    if user.pk == by.pk and role != ADMIN and role_of(user) == ADMIN:
        raise PeopleError("You cannot take your own admin role away: ask another admin.")
    user.groups.set([Group.objects.get(name=role)])


def deactivate(user: User, *, by: User) -> None:
    if user.pk == by.pk:
        raise PeopleError("You cannot deactivate your own account: ask another admin.")
    if user.is_superuser:
        raise PeopleError("A superuser is managed outside tfdash.")
    user.is_active = False
    user.save(update_fields=["is_active"])


def reactivate(user: User, *, by: User) -> None:
    user.is_active = True
    user.save(update_fields=["is_active"])


def send_password_reset(user: User, *, by: User) -> None:
    if not user.email:
        raise PeopleError(f"{user} has no email address to send the link to.")
    if not user.is_active:
        raise PeopleError(f"{user} is deactivated: reactivate the account first.")
    _send_link(user, subject="Choose a new tfdash password", template="password_reset", by=by)
