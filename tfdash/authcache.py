"""Permissions and roles read once per process, not on every request (README, "Scale").

A logged-in page used to spend three of its six queries on who the user is allowed to be: their own
permissions, their groups' permissions and their groups (the role shown in the header). Those change
rarely, so each process keeps them, keyed by the user, their superuser flag and the *auth version*: a
number on the one AccountStatus row that every request reads anyway (for the paused-claiming banner).
Any change to a user's groups or permissions, a group's permissions, or a group itself bumps that number
(signals below), so every process, on every machine, stops using what it kept at its next request.

Outside a request (a command, the worker, a test calling code directly) the version is unknown and
nothing is cached: Django's ModelBackend answers as it always does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest, HttpResponse

from certificates.models import AccountStatus

# The auth version the current request read with its AccountStatus; None outside a request.
_version: ContextVar[int | None] = ContextVar("tfdash_auth_version", default=None)
# (user id, when they joined, is_superuser, auth version) -> (permissions, group names); "when they
# joined" so that a reused id (a restored database) never meets another user's entry. Bounded: cleared
# when full.
_kept: dict[tuple[int, str, bool, int], tuple[frozenset[str], tuple[str, ...]]] = {}
MAX_KEPT = 10_000


class AccountStatusMiddleware:
    """Reads the AccountStatus row once per request (the banner and the auth version both use it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.get_response(request)
        status = AccountStatus.current()
        request._account_status = status  # type: ignore[attr-defined]  # read by the navigation context
        token = _version.set(status.auth_version)
        try:
            return self.get_response(request)
        finally:
            _version.reset(token)


def _entry(user: User) -> tuple[frozenset[str], tuple[str, ...]] | None:
    version = _version.get()
    if version is None or not user.is_active or user.pk is None:
        return None
    key = (user.pk, user.date_joined.isoformat(), user.is_superuser, version)
    if key not in _kept:
        if len(_kept) >= MAX_KEPT:
            _kept.clear()
        permissions = frozenset(ModelBackend().get_all_permissions(user))
        roles = tuple(user.groups.order_by("name").values_list("name", flat=True))
        _kept[key] = (permissions, roles)
    return _kept[key]


class CachedPermissionsBackend(ModelBackend):
    """ModelBackend, with a user's permissions kept per process for the current auth version."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        entry = _entry(user_obj) if obj is None and isinstance(user_obj, User) else None
        if entry is None:
            return super().get_all_permissions(user_obj, obj)
        return set(entry[0])


def role_names(user: Any) -> tuple[str, ...]:
    """The user's roles (group names) for the header, from the same keeping."""
    if not isinstance(user, User) or not user.is_authenticated:
        return ()
    entry = _entry(user)
    if entry is None:
        return tuple(user.groups.order_by("name").values_list("name", flat=True))
    return entry[1]


def forget_all() -> None:
    """Drop everything this process kept (the test suite does, between tests that roll back)."""
    _kept.clear()


def bump_auth_version(**kwargs: Any) -> None:
    """Something that decides permissions changed: every process drops what it kept."""
    AccountStatus.current()  # the row exists
    AccountStatus.objects.filter(pk=1).update(auth_version=F("auth_version") + 1)


def connect_signals() -> None:
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            bump_auth_version, sender=through, dispatch_uid=f"auth_version_{through.__name__}"
        )
    for model in (Group, Permission):
        post_save.connect(bump_auth_version, sender=model, dispatch_uid=f"auth_version_save_{model.__name__}")
        post_delete.connect(
            bump_auth_version, sender=model, dispatch_uid=f"auth_version_delete_{model.__name__}"
        )
