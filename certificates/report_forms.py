"""The vendor report's period picker and the managers' threshold form."""

from __future__ import annotations

from datetime import timedelta

from django import forms

from certificates import reports
from certificates.models import ReportThreshold

MAX_CUSTOM_DAYS = 366


class PeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[("day", "Day"), ("week", "Week"), ("month", "Month"), ("custom", "Custom range")],
        required=False,
    )
    day = forms.DateField(
        required=False, label="Day in the period", widget=forms.DateInput(attrs={"type": "date"})
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, *, default: str = "month", **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.default = default

    def clean(self) -> dict:
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom range needs both a From and a To date.")
            if start > end:
                raise forms.ValidationError("From must be on or before To.")
            if end - start > timedelta(days=MAX_CUSTOM_DAYS):
                raise forms.ValidationError(f"Choose at most {MAX_CUSTOM_DAYS} days.")
        return data

    def get_period(self) -> reports.Period:
        """The chosen period; the default one when nothing (valid) was chosen."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        kind = data.get("period") or self.default
        if kind == "custom" and data.get("start"):
            return reports.custom_period(data["start"], data["end"])
        if kind == "custom":
            kind = "month"
        return reports.period_for(kind, data.get("day") or reports.today())


class ThresholdForm(forms.Form):
    """One metric's limits. Which way is bad is the metric's nature, shown beside the inputs."""

    metric = forms.ChoiceField(choices=ReportThreshold.Metric.choices, widget=forms.HiddenInput)
    amber = forms.FloatField(required=False, min_value=0, max_value=100, label="Amber at (%)")
    red = forms.FloatField(required=False, min_value=0, max_value=100, label="Red at (%)")
    min_received = forms.IntegerField(min_value=0, initial=20, label="Only with at least (leads)")

    def clean(self) -> dict:
        data = super().clean()
        amber, red, metric = data.get("amber"), data.get("red"), data.get("metric")
        if amber is not None and red is not None and metric in reports.METRICS:
            worse_is_higher = reports.METRICS[metric].higher_is_worse
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
    saved = reports.thresholds()
    initial = [
        {
            "metric": metric,
            "amber": saved[metric].amber if metric in saved else None,
            "red": saved[metric].red if metric in saved else None,
            "min_received": saved[metric].min_received if metric in saved else 20,
        }
        for metric in reports.METRICS
    ]
    formset = ThresholdFormSet(data, initial=initial)
    for form, row in zip(formset.forms, initial, strict=False):
        form.rule = reports.METRICS[row["metric"]]  # its label and which way is bad, for the page
    return formset
