from typing import cast

from django import forms
from django.contrib.auth import get_user_model

from tfdash import audit


class AuditFilterForm(forms.Form):
    """Which changes the audit page lists: one model's, one user's, or all."""

    model = forms.ChoiceField(required=False, label="What")
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        label="Who",
        empty_label="Anyone",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["model"]).choices = [("", "Everything"), *audit.model_choices()]
