"""Filters for the editor's lists: a text search and the kind."""

import django_filters
from django.db.models import Q, QuerySet

from scanning.models import Kind, ScanTemplate, ScanTerm


class ScanTermFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Search", method="search")
    kind = django_filters.ChoiceFilter(choices=Kind.choices, empty_label="Required and forbidden")

    class Meta:
        model = ScanTerm
        fields = ["q", "kind"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Terms number in the hundreds: a LIKE over them is cheap.
        return queryset.filter(Q(text__icontains=value) | Q(note__icontains=value))


class ScanTemplateFilter(ScanTermFilter):
    class Meta:
        model = ScanTemplate
        fields = ["q", "kind"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(name__icontains=value) | Q(text__icontains=value) | Q(note__icontains=value))
