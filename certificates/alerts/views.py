"""The alerts page: what tfdash raised, who acknowledged it, and whether each channel delivered it."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from certificates.alerts.models import Alert, AlertDelivery
from certificates.alerts.raising import alerts_changed
from certificates.models import signed_in

SHOWN = 100


@permission_required("certificates.view_alert", raise_exception=True)
def alert_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    alerts = Alert.objects.select_related("acknowledged_by").prefetch_related(
        Prefetch("deliveries", queryset=AlertDelivery.objects.order_by("channel", "target", "-id"))
    )
    if state in Alert.State.values:
        alerts = alerts.filter(state=state)
    ctx = {"page": "alerts", "alerts": alerts[:SHOWN], "state": state, "states": Alert.State.choices}
    return render(request, "alerts/alert_list.html", ctx)


@require_POST
@permission_required("certificates.manage_alert", raise_exception=True)
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    if alert.state == Alert.State.OPEN:
        Alert.objects.filter(pk=alert.pk, state=Alert.State.OPEN).update(
            state=Alert.State.ACKNOWLEDGED,
            acknowledged_by=signed_in(request.user),
            acknowledged_at=timezone.now(),
        )
        alerts_changed()
        messages.success(
            request, f"Acknowledged “{alert.summary}”. It stays listed until what caused it is over."
        )
    else:
        messages.info(request, f"This alert is already {alert.get_state_display().lower()}.")
    return redirect("certificates:alerts")
