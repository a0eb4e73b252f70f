"""The vendor report's period picker and the managers' threshold form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from certificates.models import ReportThreshold
from certificates.reports import scorecards

MAX_CUSTOM_DAYS = 366
# Bounds for a chosen day: a period's arithmetic (its month's end, a year of history before it) must
# stay inside the dates Python and the database hold; 9999-12-31 would overflow.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


def day_field(label: str) -> forms.DateField:
    message = f"Choose a day from {EARLIEST:%b %-d, %Y} to {LATEST:%b %-d, %Y}."
    return forms.DateField(
        required=False,
        label=label,
        validators=[MinValueValidator(EARLIEST, message), MaxValueValidator(LATEST, message)],
        widget=forms.DateInput(attrs={"type": "date", "min": EARLIEST, "max": LATEST}),
    )


class PeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[("day", "Day"), ("week", "Week"), ("month", "Month"), ("custom", "Custom range")],
        required=False,
    )
    day = day_field("Day in the period")
    start = day_field("From")
    end = day_field("To")

    def __init__(self, data=None, *, default: str = "month", **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.default = default

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        # The period picker shows only the form's own errors: say which field was wrong, and why.
        wrong = [
            f"{self.fields[name].label}: {' '.join(str(error) for error in errors)}"
            for name, errors in self.errors.items()
        ]
        if wrong:
            raise forms.ValidationError(" ".join(wrong))
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom range needs both a From and a To date.")
            if start > end:
                raise forms.ValidationError("From must be on or before To.")
            if end - start > timedelta(days=MAX_CUSTOM_DAYS):
                raise forms.ValidationError(f"Choose at most {MAX_CUSTOM_DAYS} days.")
        return data

    def get_period(self) -> scorecards.Period:
        """The chosen period; the default one when nothing (valid) was chosen."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        kind = data.get("period") or self.default
        if kind == "custom" and data.get("start"):
            return scorecards.custom_period(data["start"], data["end"])
        if kind == "custom":
            kind = "month"
        return scorecards.period_for(kind, data.get("day") or scorecards.today())


class ThresholdForm(forms.Form):
    """One metric's limits. Which way is bad is the metric's nature, shown beside the inputs."""

    metric = forms.ChoiceField(choices=ReportThreshold.Metric.choices, widget=forms.HiddenInput)
    amber = forms.FloatField(required=False, min_value=0, max_value=100, label="Amber at (%)")
    red = forms.FloatField(required=False, min_value=0, max_value=100, label="Red at (%)")
    min_received = forms.IntegerField(min_value=0, initial=20, label="Only with at least (leads)")
    rule: scorecards.MetricRule  # set by threshold_formset: the label and which way is bad

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        amber, red, metric = data.get("amber"), data.get("red"), data.get("metric")
        if amber is not None and red is not None and metric in scorecards.METRICS:
            worse_is_higher = scorecards.METRICS[metric].higher_is_worse
            if (red < amber) if worse_is_higher else (red > amber):
                raise forms.ValidationError(
                    "Red must be past amber: "
                    + (
                        "higher, since a higher rate is worse."
                        if worse_is_higher
                        else "lower, since a lower rate is worse."
                    )
                )
        return data


ThresholdFormSet = forms.formset_factory(ThresholdForm, extra=0)


def threshold_formset(data=None) -> forms.BaseFormSet:
    """One form per metric, filled from the saved limits (a metric without a row has none yet)."""
    saved = scorecards.thresholds()
    initial: list[dict[str, Any]] = [
        {
            "metric": metric,
            "amber": saved[metric].amber if metric in saved else None,
            "red": saved[metric].red if metric in saved else None,
            "min_received": saved[metric].min_received if metric in saved else 20,
        }
        for metric in scorecards.METRICS
    ]
    formset = ThresholdFormSet(data, initial=initial)
    for form, row in zip(formset.forms, initial, strict=False):
        form.rule = scorecards.METRICS[row["metric"]]  # its label and which way is bad, for the page
    return formset
