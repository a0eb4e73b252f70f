"""Merging and deleting vendors: what refers to a vendor, and moving all of it to another in one go.

A vendor is referred to by its certificates (which the vendor report's daily rollups count) and by its
scan-profile assignment. Merging moves the certificates, recounts the rollups of both vendors, hands the
profile over, and deletes the merged vendor with the reason in its history, all in one transaction.
Deleting is for a vendor that nothing refers to.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Model, ProtectedError
from django.utils import timezone

from certificates.models import Actor, Certificate, Vendor, VendorDayRollup
from certificates.reports import rollups
from scanning.models import ScanProfile, VendorScanProfile

# simple_history's change reason is a 100-character column.
REASON_LENGTH = 100


class VendorInUse(Exception):
    """The vendor cannot be deleted (something refers to it) or merged now (a claim of it is in flight)."""


@dataclass(frozen=True)
class References:
    """What refers to one vendor."""

    certificates: int
    report_days: int  # days of the vendor report that count some of its certificates
    profile: ScanProfile | None

    @property
    def any(self) -> bool:
        return bool(self.certificates or self.report_days or self.profile)

    def why_kept(self, vendor: Vendor) -> str:
        """Why the vendor cannot be deleted, or "" when it can."""
        held = []
        if self.certificates:
            held.append(f"{self.certificates} certificate{'s' if self.certificates != 1 else ''}")
        if self.report_days:
            held.append(f"{self.report_days} day{'s' if self.report_days != 1 else ''} of reports")
        if self.profile:
            held.append(f"the scan profile “{self.profile}”")
        if not held:
            return ""
        listed = ", ".join(held[:-1]) + " and " + held[-1] if len(held) > 1 else held[0]
        return f"“{vendor}” has {listed}: merge it into another vendor instead, which keeps them."


@dataclass(frozen=True)
class MergePlan:
    """What merging `source` into `target` will do, as the confirmation shows it."""

    source: Vendor
    target: Vendor
    references: References
    # The source's profile when the target has none (it moves), and the target's own profile (it stays).
    profile_moves: ScanProfile | None
    target_profile: ScanProfile | None

    @property
    def profile_dropped(self) -> ScanProfile | None:
        """The source's profile when the target keeps its own: the source's leads are scanned with the
        target's profile from then on."""
        return self.references.profile if self.target_profile else None


def references(vendor: Vendor) -> References:
    rollups.refresh_dirty()  # counts as of now, not as of the last report page
    assignment = VendorScanProfile.objects.select_related("profile").filter(vendor=vendor).first()
    return References(
        certificates=Certificate.objects.filter(vendor=vendor).count(),
        report_days=VendorDayRollup.objects.filter(vendor=vendor, received__gt=0).count(),
        profile=assignment.profile if assignment else None,
    )


def merge_plan(source: Vendor, target: Vendor) -> MergePlan:
    found = references(source)
    target_assignment = VendorScanProfile.objects.select_related("profile").filter(vendor=target).first()
    target_profile = target_assignment.profile if target_assignment else None
    return MergePlan(
        source=source,
        target=target,
        references=found,
        profile_moves=None if target_profile else found.profile,
        target_profile=target_profile,
    )


def merge_vendor(source: Vendor, target: Vendor, *, user: Actor) -> int:
    """Move everything of `source` to `target` and delete `source`; returns how many certificates moved.

    Raises VendorInUse, changing nothing, while a claim of one of its certificates is in flight (its
    sender saves the certificate it read, whose vendor must still exist then) or when a certificate
    arrives for `source` during the merge.
    """
    if source.pk == target.pk:
        raise ValueError("A vendor cannot be merged into itself.")
    try:
        with transaction.atomic():
            moved = _merge(source, target, user=user)
    except (ProtectedError, IntegrityError):
        # PostgreSQL checks the certificates' foreign key at commit: one was added for `source` meanwhile.
        raise VendorInUse(
            f"A certificate arrived for “{source}” during the merge; nothing was changed. Try again."
        ) from None
    return moved


def _merge(source: Vendor, target: Vendor, *, user: Actor) -> int:
    # NO KEY UPDATE: neither vendor is renamed or merged meanwhile, yet intake of their leads goes on.
    vendors = Vendor.objects.select_for_update(no_key=True).filter(pk__in=[source.pk, target.pk])
    locked = {vendor.pk: vendor for vendor in vendors}
    if len(locked) != 2:
        raise VendorInUse("One of the two vendors was merged or deleted meanwhile; nothing was changed.")
    source, target = locked[source.pk], locked[target.pk]
    # Lock the certificates before looking for leases: one leased after the look would be sent with a
    # copy naming the deleted vendor. (SQLite's IMMEDIATE transaction already keeps every writer out.)
    ids = list(Certificate.objects.select_for_update().filter(vendor=source).values_list("id", flat=True))
    in_flight = Certificate.objects.filter(vendor=source, lease_expires_at__gt=timezone.now())
    if ids and in_flight.exclude(lease_owner="").exists():
        raise VendorInUse(
            f"A claim of one of the certificates of “{source}” is being sent right now; nothing was "
            "changed. Try again in a minute."
        )
    moved = Certificate.objects.filter(vendor=source).update(vendor=target)
    _hand_over_profile(source, target)
    # The triggers marked both vendors' days (migration 0007 watches vendor_id): recount them now.
    rollups.refresh_dirty()
    _give_reason(source, merge_reason(source, target, user))
    source.delete()  # its emptied rollups go with it (CASCADE)
    return moved


def _hand_over_profile(source: Vendor, target: Vendor) -> None:
    """The target keeps its own profile; without one, it takes the source's."""
    assignment = VendorScanProfile.objects.filter(vendor=source).first()
    if assignment is None:
        return
    profile_id = assignment.profile_id
    _give_reason(assignment, _fit(f"“{source}” merged into “{target}”"))
    assignment.delete()
    if not VendorScanProfile.objects.filter(vendor=target).exists():
        moved = VendorScanProfile(vendor=target, profile_id=profile_id)
        _give_reason(moved, _fit(f"from “{source}”, merged into it"))
        moved.save()


def merge_reason(source: Vendor, target: Vendor, user: Actor) -> str:
    """“merged into “Acme Leads” by jane”, the target's name shortened to fit the history column."""
    by = f" by {user}" if getattr(user, "is_authenticated", False) else ""
    room = REASON_LENGTH - len("merged into “” (#)") - len(str(target.pk)) - len(by)
    name = target.name if len(target.name) <= room else target.name[: max(room - 1, 1)] + "…"
    return _fit(f"merged into “{name}” (#{target.pk}){by}")


def _fit(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def delete_vendor(vendor: Vendor, *, user: Actor) -> None:
    """Delete a vendor that nothing refers to; raises VendorInUse (saying why) otherwise."""
    try:
        with transaction.atomic():
            locked = Vendor.objects.select_for_update(no_key=True).filter(pk=vendor.pk).first()
            if locked is None:
                return  # deleted meanwhile: what was asked is done
            found = references(locked)
            if found.any:
                raise VendorInUse(found.why_kept(locked))
            by = f" by {user}" if getattr(user, "is_authenticated", False) else ""
            _give_reason(locked, _fit(f"deleted{by}: nothing referred to it"))
            locked.delete()  # with its rollups, which count nothing
    except (ProtectedError, IntegrityError):
        raise VendorInUse(f"A certificate arrived for “{vendor}” meanwhile; it was kept.") from None


def _give_reason(obj: Model, reason: str) -> None:
    """Tell simple_history why the next save or delete happens (its history row keeps the reason)."""
    obj._change_reason = reason  # type: ignore[attr-defined]  # simple_history's documented hook
