from typing import cast

from django import forms
from django.contrib.auth import get_user_model

from tfdash import audit
from tfdash.roles import ROLES, VIEWER


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


ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


class InviteForm(forms.Form):
    email = forms.EmailField(
        max_length=254, help_text="The invitation goes here: a link to choose a password."
    )
    username = forms.CharField(
        max_length=150, required=False, help_text="How they sign in; empty: the part of the email before @."
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)
