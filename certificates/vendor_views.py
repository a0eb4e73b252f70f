"""Vendors: everyone reads the list; managers add and rename them (imports and claims add them too)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django_tables2 import RequestConfig

from certificates.forms import VendorForm
from certificates.models import Vendor
from certificates.tables import VendorTable
from tfdash.paginators import Paginator

PER_PAGE = 50


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
    status = 400 if form.errors else 200
    return render(request, "certificates/vendor_form.html", {"page": "vendors", "form": form}, status=status)
