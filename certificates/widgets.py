"""The certificate list's filter widgets rendered in Python, with the same HTML as Django's templates.

Django renders every widget through a template (and a select, a template per option): about a third of
the list page's rendering, for a form that is the same on every page. tests/test_workspace_list.py
compares each widget's output with Django's (the inputs byte for byte).
"""

from __future__ import annotations

from html import escape
from typing import Any

import django_filters
from django import forms
from django.forms.utils import flatatt
from django.forms.widgets import Input
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe


class QuickSelect(forms.Select):
    """A select of flat choices (no option groups).

    Django renders a template per option: about 35 ms a page for 200 vendors, and 1 ms for each small
    select.
    """

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        chosen = {str(v) for v in self.format_value(value)}
        options = []
        for choice, label in self.choices:
            # The standard library's escape: Django's wraps it for lazy strings, at 3x the cost per call.
            choice = str(choice)
            selected = " selected" if choice in chosen else ""
            options.append(f'<option value="{escape(choice)}"{selected}>{escape(str(label))}</option>')
        return format_html("<select{}>{}</select>", flatatt(final_attrs), mark_safe("".join(options)))  # noqa: S308


def _input(widget: dict[str, Any]) -> str:
    """django/forms/widgets/input.html (with attrs.html) for a widget's context, as that template writes
    it: attributes in their order, True ones bare, False ones left out, values escaped unless safe."""
    value = "" if widget["value"] is None else f' value="{conditional_escape(widget["value"])}"'
    attrs = "".join(
        f" {conditional_escape(key)}"
        if on is True
        else f' {conditional_escape(key)}="{conditional_escape(on)}"'
        for key, on in widget["attrs"].items()
        if on is not False
    )
    return f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"{value}{attrs}>'


class QuickInput(Input):
    """An input without its two templates (about 0.2 ms each a page)."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        return SafeString(_input(self.get_context(name, value, attrs)["widget"]))


class QuickTextInput(QuickInput, forms.TextInput):
    pass


class QuickNumberInput(QuickInput, forms.NumberInput):
    pass


class QuickHiddenInput(QuickInput, forms.HiddenInput):
    pass


class QuickDateRangeWidget(django_filters.widgets.DateRangeWidget):
    """django-filter's from-to pair of inputs (its multiwidget.html: the two, a dash between)."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        subwidgets = self.get_context(name, value, attrs)["widget"]["subwidgets"]
        # Each input's two templates end with a line break; Django's renderer strips the whole.
        html = "".join(_input(w) + "\n\n" + ("-" if i == 0 else "") for i, w in enumerate(subwidgets))
        return SafeString(html.strip())
