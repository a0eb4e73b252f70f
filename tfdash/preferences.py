"""Each person's preferences: the time zone every time is shown in, and the alerts they get by email."""

from collections.abc import Callable
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from certificates.alerts.models import Alert, Preferences

SESSION_KEY = "time_zone"


@cache
def zone_names() -> list[str]:
    return sorted(available_timezones())


def chosen_zone(user_id: int | None) -> str:
    if user_id is None:
        return ""
    return Preferences.objects.filter(user_id=user_id).values_list("time_zone", flat=True).first() or ""


@receiver(user_logged_in, dispatch_uid="tfdash.remember_zone")
def _remember_zone(sender: object, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Read the person's time zone once, at login, so pages need no query for it."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = chosen_zone(user.pk)


class TimeZoneMiddleware:
    """Show every time in the person's time zone (templates convert aware datetimes to the active one);
    without a choice, in the team's (TIME_ZONE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = ""
        if request.user.is_authenticated:
            if SESSION_KEY not in request.session:  # a session from before preferences existed
                request.session[SESSION_KEY] = chosen_zone(request.user.pk)
            zone = request.session[SESSION_KEY]
        if not zone:
            return self.get_response(request)
        timezone.activate(ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(required=False, label="Time zone")
    alert_events = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Email me these alerts",
        choices=[(value, label) for value, label in Alert.Event.choices if value != Alert.Event.TEST],
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        team = f"The team's time zone ({settings.TIME_ZONE})"
        self.fields["time_zone"].choices = [("", team), *((name, name) for name in zone_names())]  # type: ignore[attr-defined]


def preferences_page(request: HttpRequest) -> HttpResponse:
    """Every signed-in person may change their own preferences (no role needed)."""
    user_id = request.user.pk
    assert user_id is not None  # every page needs a login (LoginRequiredMiddleware)
    saved = Preferences.objects.filter(user_id=user_id).first()
    initial = {"time_zone": saved.time_zone, "alert_events": saved.alert_events} if saved else {}
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        Preferences.objects.update_or_create(
            user_id=user_id,
            defaults={
                "time_zone": form.cleaned_data["time_zone"],
                "alert_events": form.cleaned_data["alert_events"],
            },
        )
        request.session[SESSION_KEY] = form.cleaned_data["time_zone"]
        messages.success(request, "Saved your preferences.")
        return redirect("preferences")
    email = request.user.email if request.user.is_authenticated else ""
    return render(request, "accounts/preferences.html", {"form": form, "email": email, "page": "preferences"})
