"""django-tables2's paginators, bounded: any `page` or `per_page` in a URL gets a page, never a 5xx.

RequestConfig passes both from the query string as any integer. Unbounded, a negative `per_page` makes
a negative slice, and a huge `page` an OFFSET past the database's integers (OverflowError on SQLite,
bigint out of range on PostgreSQL). Django's own paginator already turns a page past the end into the
last page; the lazy one cannot know the last page, so it shows the first (as it does past the end).
"""

from django.core.paginator import EmptyPage
from django.core.paginator import Paginator as DjangoPaginator
from django_tables2 import LazyPaginator as TablesLazyPaginator

MAX_PER_PAGE = 100
MAX_PAGE = 10**9  # times MAX_PER_PAGE, still far inside a 64-bit OFFSET


def bounded_per_page(per_page: int | str) -> int:
    return min(max(int(per_page), 1), MAX_PER_PAGE)


class Paginator(DjangoPaginator):
    def __init__(self, object_list, per_page: int | str, *args, **kwargs) -> None:
        super().__init__(object_list, bounded_per_page(per_page), *args, **kwargs)


class LazyPaginator(TablesLazyPaginator):
    """No COUNT(*) over the whole table per page view."""

    def __init__(self, object_list, per_page: int | str, *args, **kwargs) -> None:
        super().__init__(object_list, bounded_per_page(per_page), *args, **kwargs)

    def validate_number(self, number) -> int:
        number = super().validate_number(number)
        if number > MAX_PAGE:
            raise EmptyPage("That page number is too large")
        return number
