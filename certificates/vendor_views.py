"""Vendors: everyone reads the list; managers add, rename, merge and delete them (imports and claims add
them too)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django_tables2 import RequestConfig

from certificates import vendors
from certificates.forms import VendorForm, VendorMergeForm
from certificates.models import Vendor
from certificates.paginators import Paginator
from certificates.tables import VendorTable

PER_PAGE = 50
MERGE_PERMISSIONS = ("certificates.change_vendor", "certificates.delete_vendor")


@permission_required("certificates.view_vendor", raise_exception=True)
def vendor_list(request: HttpRequest) -> HttpResponse:
    table = VendorTable(Vendor.objects.all())
    if not request.user.has_perm("certificates.change_vendor"):
        table.columns.hide("edit")
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": Paginator}).configure(table)
    return render(request, "certificates/vendors.html", {"page": "vendors", "table": table})


@permission_required("certificates.add_vendor", raise_exception=True)
def vendor_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, Vendor())


@permission_required("certificates.change_vendor", raise_exception=True)
def vendor_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Vendor, pk=pk))


def _edit(request: HttpRequest, vendor: Vendor) -> HttpResponse:
    form = VendorForm(request.POST or None, instance=vendor)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved the vendor “{vendor}”.")
        return redirect("certificates:vendors")
    ctx = {"page": "vendors", "form": form}
    if vendor.pk:
        ctx["merge_form"] = VendorMergeForm(source=vendor)
        ctx["why_kept"] = vendors.references(vendor).why_kept(vendor)
    status = 400 if form.errors else 200
    return render(request, "certificates/vendor_form.html", ctx, status=status)


# /certificates/vendors/<pk>/merge/ and /delete/


@permission_required(MERGE_PERMISSIONS, raise_exception=True)
def vendor_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the vendor to merge into (GET ?into=), see what moves, and confirm it (POST)."""
    source = get_object_or_404(Vendor, pk=pk)
    data = request.POST if request.method == "POST" else request.GET if "into" in request.GET else None
    form = VendorMergeForm(data, source=source)
    target = form.cleaned_data["into"] if form.is_valid() else None
    if target is not None and request.method == "POST":
        if form.cleaned_data["confirm"]:
            try:
                moved = vendors.merge_vendor(source, target, user=request.user)
            except vendors.VendorInUse as exc:
                messages.error(request, str(exc))
                return redirect(f"{reverse('certificates:vendor-merge', args=[source.pk])}?into={target.pk}")
            noun = "certificate" if moved == 1 else "certificates"
            messages.success(request, f"Merged “{source}” into “{target}”: {moved} {noun} moved.")
            return redirect("certificates:vendor", pk=target.pk)
        form.add_error("confirm", "Tick the box to confirm the merge, or go back.")
    ctx = {
        "page": "vendors",
        "source": source,
        "form": form,
        "plan": vendors.merge_plan(source, target) if target is not None else None,
    }
    status = 400 if form.errors else 200
    return render(request, "certificates/vendor_merge.html", ctx, status=status)


@permission_required("certificates.delete_vendor", raise_exception=True)
def vendor_delete(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = get_object_or_404(Vendor, pk=pk)
    if request.method == "POST":
        try:
            vendors.delete_vendor(vendor, user=request.user)
        except vendors.VendorInUse as exc:
            messages.error(request, str(exc))
            return redirect("certificates:vendor", pk=vendor.pk)
        messages.success(request, f"Deleted the vendor “{vendor}”.")
        return redirect("certificates:vendors")
    ctx = {"page": "vendors", "vendor": vendor, "why_kept": vendors.references(vendor).why_kept(vendor)}
    return render(request, "certificates/vendor_delete.html", ctx)
