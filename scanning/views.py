"""Scan terms, templates and profiles: lists, editors and the preview. Viewers read; managers edit."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, ProtectedError, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.views.decorators.http import require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin, SingleTableView
from django_tables2.export.views import ExportMixin

from certificates.exporting import SafeTableExport
from certificates.paginators import Paginator
from scanning.filters import ScanTemplateFilter, ScanTermFilter
from scanning.forms import (
    PreviewForm,
    ScanProfileForm,
    ScanTemplateForm,
    ScanTermForm,
    posted_rows,
    template_columns,
    values_formset,
)
from scanning.meaning import record_acknowledgement
from scanning.models import ScanProfile, ScanTemplate, ScanTerm, wrap_name
from scanning.previewing import Preview, preview_scan
from scanning.tables import ScanProfileTable, ScanTemplateTable, ScanTermTable

PER_PAGE = 50


def _may(request: HttpRequest, action: str, model: type[Model]) -> bool:
    return request.user.has_perm(f"scanning.{action}_{model._meta.model_name}")


def _require(request: HttpRequest, action: str, model: type[Model]) -> None:
    if not _may(request, action, model):
        raise PermissionDenied(f"Your role cannot {action} {model._meta.verbose_name_plural}.")


# /scanning/ lists. CBVs because SingleTableMixin + FilterView + ExportMixin wire the search, the
# sortable table, its pagination and the CSV export for us; the sets are small (hundreds of rows).


class _ScanList(PermissionRequiredMixin, ExportMixin, SingleTableMixin, FilterView):
    raise_exception = True
    template_name = "scanning/list.html"
    table_pagination = {"per_page": PER_PAGE, "paginator_class": Paginator}
    export_formats = ("csv",)
    export_class = SafeTableExport
    section = ""
    new_url = ""
    add_permission = ""

    def get_context_data(self, **kwargs: object) -> dict:
        return {
            **super().get_context_data(**kwargs),
            "page": "scanning",
            "section": self.section,
            "new_url": self.new_url,
            "can_add": self.request.user.has_perm(self.add_permission),
        }


class ScanTermList(_ScanList):
    permission_required = "scanning.view_scanterm"
    add_permission = "scanning.add_scanterm"
    table_class = ScanTermTable
    filterset_class = ScanTermFilter
    export_name = "scan-terms"
    section = "terms"
    new_url = "scanning:term-new"

    def get_queryset(self) -> QuerySet[ScanTerm]:
        return ScanTerm.objects.prefetch_related("profiles")


class ScanTemplateList(_ScanList):
    permission_required = "scanning.view_scantemplate"
    add_permission = "scanning.add_scantemplate"
    table_class = ScanTemplateTable
    filterset_class = ScanTemplateFilter
    export_name = "scan-templates"
    section = "templates"
    new_url = "scanning:template-new"

    def get_queryset(self) -> QuerySet[ScanTemplate]:
        return ScanTemplate.objects.prefetch_related("profiles")


class ScanProfileList(PermissionRequiredMixin, SingleTableView):
    permission_required = "scanning.view_scanprofile"
    raise_exception = True
    template_name = "scanning/list.html"
    table_class = ScanProfileTable
    table_pagination = {"per_page": PER_PAGE, "paginator_class": Paginator}

    def get_queryset(self) -> QuerySet[ScanProfile]:
        return ScanProfile.objects.prefetch_related("terms", "templates", "assignments__vendor")

    def get_context_data(self, **kwargs: object) -> dict:
        return {
            **super().get_context_data(**kwargs),
            "page": "scanning",
            "section": "profiles",
            "new_url": "scanning:profile-new",
            "can_add": self.request.user.has_perm("scanning.add_scanprofile"),
        }


term_list = ScanTermList.as_view()
template_list = ScanTemplateList.as_view()
profile_list = ScanProfileList.as_view()


# /scanning/terms/<pk>/


@permission_required("scanning.view_scanterm", raise_exception=True)
def term_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    term = get_object_or_404(ScanTerm, pk=pk) if pk else ScanTerm()
    action = "change" if pk else "add"
    if pk is None:
        _require(request, "add", ScanTerm)
    if request.method == "POST":
        _require(request, action, ScanTerm)
        form = ScanTermForm(request.POST, instance=term)
        if form.is_valid():
            with transaction.atomic():
                form.save()
            messages.success(request, f"Saved the term “{term}”.")
            return redirect("scanning:terms")
    else:
        form = ScanTermForm(instance=term)
    can_edit = _may(request, action, ScanTerm)
    if not can_edit:
        form.make_read_only()
    ctx = {"page": "scanning", "section": "terms", "form": form, "term": term, "can_edit": can_edit}
    return render(request, "scanning/term_form.html", ctx)


# /scanning/templates/<pk>/


@permission_required("scanning.view_scantemplate", raise_exception=True)
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    template = get_object_or_404(ScanTemplate, pk=pk) if pk else ScanTemplate()
    api_version = settings.TRUSTEDFORM_API_VERSION
    action = "change" if pk else "add"
    if pk is None:
        _require(request, "add", ScanTemplate)
    extra = 1
    if request.method == "POST":
        _require(request, action, ScanTemplate)
        _columns, rows, blank = posted_rows(request.POST)
        if "add_row" in request.POST:
            # Add a row without saving (and without errors yet): the page works without JavaScript.
            form = ScanTemplateForm(initial=request.POST.dict(), instance=template, api_version=api_version)
            form.warn_about_rows(request.POST, rows)
            extra = blank + 1
        else:
            form = ScanTemplateForm(request.POST, instance=template, rows=rows, api_version=api_version)
            if form.is_valid():
                with transaction.atomic():
                    form.save()
                    if form.cleaned_data["acknowledge_v4"]:
                        # The manager confirmed the v4 meaning of this template in its profiles.
                        for profile in template.profiles.all():
                            record_acknowledgement(profile)
                messages.success(request, f"Saved the template “{template}” with {len(rows)} value rows.")
                return redirect("scanning:template", pk=template.pk)
        columns = template_columns(request.POST.get("text", ""), request.POST.get("delimiter", ""), rows)
    else:
        form = ScanTemplateForm(instance=template, api_version=api_version)
        rows = list(template.variables)
        columns = template_columns(template.text, template.delimiter, rows)
    can_edit = _may(request, action, ScanTemplate)
    if not can_edit:
        form.make_read_only()
    ctx = {
        "page": "scanning",
        "section": "templates",
        "form": form,
        "template": template,
        "columns": columns,
        "column_heads": [wrap_name(c, request.POST.get("delimiter", template.delimiter)) for c in columns],
        "values": values_formset(columns, rows, extra=extra if can_edit else 0),
        "can_edit": can_edit,
        "v4_sentences": [form.v4.sentence] if form.v4 else [],
        # Only a template that profiles hold changes what claims send; confirming it confirms them.
        "v4_confirm": can_edit and bool(template.pk) and template.profiles.exists(),
    }
    return render(request, "scanning/template_form.html", ctx)


# /scanning/profiles/<pk>/


@permission_required("scanning.view_scanprofile", raise_exception=True)
def profile_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    profile = get_object_or_404(ScanProfile, pk=pk) if pk else ScanProfile()
    action = "change" if pk else "add"
    if pk is None:
        _require(request, "add", ScanProfile)
    if request.method == "POST":
        _require(request, action, ScanProfile)
        form = ScanProfileForm(request.POST, instance=profile, api_version=settings.TRUSTEDFORM_API_VERSION)
        if form.is_valid():
            # One transaction: a claim reading the profile's new stamp also sees its new terms.
            with transaction.atomic():
                form.save()
                profile.assign_to(form.cleaned_data["vendors"])
                if form.cleaned_data["acknowledge_v4"]:
                    record_acknowledgement(profile)
            messages.success(request, f"Saved the profile “{profile}”.")
            return redirect("scanning:profile", pk=profile.pk)
    else:
        form = ScanProfileForm(instance=profile, api_version=settings.TRUSTEDFORM_API_VERSION)
    can_edit = _may(request, action, ScanProfile)
    if not can_edit:
        form.make_read_only()
    ctx = {
        "page": "scanning",
        "section": "profiles",
        "form": form,
        "profile": profile,
        "can_edit": can_edit,
        "v4": form.v4,
    }
    return render(request, "scanning/profile_form.html", ctx)


# /scanning/<kind>/<pk>/delete/


def _delete(
    request: HttpRequest, model: type[ScanTerm | ScanTemplate | ScanProfile], pk: int, back: str
) -> HttpResponse:
    _require(request, "delete", model)
    obj = cast(ScanTerm | ScanTemplate | ScanProfile, get_object_or_404(model, pk=pk))
    if request.method == "POST":
        try:
            with transaction.atomic():
                obj.delete()
        except ProtectedError:
            messages.error(
                request, f"“{obj}” is the profile of some vendors: give them another profile first."
            )
            return redirect(obj)
        messages.success(request, f"Deleted “{obj}”.")
        return redirect(back)
    ctx = {
        "page": "scanning",
        "object": obj,
        "kind": model._meta.verbose_name,
        "back": resolve_url(obj),
    }
    return render(request, "scanning/confirm_delete.html", ctx)


def term_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete(request, ScanTerm, pk, "scanning:terms")


def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete(request, ScanTemplate, pk, "scanning:templates")


def profile_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete(request, ScanProfile, pk, "scanning:profiles")


# /scanning/preview/


@permission_required("scanning.view_scanprofile", raise_exception=True)
def preview(request: HttpRequest) -> HttpResponse:
    """Without JavaScript the form posts here and the page shows the same results the script fetches."""
    if request.method == "POST":
        form = PreviewForm(request.POST, request.FILES)
    else:
        form = PreviewForm(initial={"profile": request.GET.get("profile")})
    ctx = {"page": "scanning", "section": "preview", "form": form, "preview": _preview(form)}
    return render(request, "scanning/preview.html", ctx)


@require_POST
@permission_required("scanning.view_scanprofile", raise_exception=True)
def preview_results(request: HttpRequest) -> HttpResponse:
    """The results fragment the preview page swaps in as the manager types (htmx)."""
    form = PreviewForm(request.POST, request.FILES)
    return render(request, "scanning/_preview_results.html", {"form": form, "preview": _preview(form)})


def _preview(form: PreviewForm) -> Preview | None:
    if not form.is_bound or not form.is_valid():
        return None
    required, forbidden = form.typed_terms()
    data = form.cleaned_data
    return preview_scan(
        page_text=data["page_text"],
        html=data["html_file"],
        profile=data["profile"],
        required=required,
        forbidden=forbidden,
        delimiter=data["delimiter"],
        api_version=settings.TRUSTEDFORM_API_VERSION,
    )
