"""The honour-by date of a revocation: 10 business days, US federal holidays excluded. Pure."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays

BUSINESS_DAYS_TO_HONOUR = 10


@cache
def _federal_holidays(year: int) -> holidays.HolidayBase:
    # The `holidays` package keeps the federal list (and its observed days) current, so no table here.
    return holidays.country_holidays("US", years=year)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _federal_holidays(day.year)


def honour_by(received: date, business_days: int = BUSINESS_DAYS_TO_HONOUR) -> date:
    """The last day to honour a revocation received on `received`: the day it was received does not
    count, so a Monday's revocation is due the Monday two weeks on, later by each holiday between."""
    day, counted = received, 0
    while counted < business_days:
        day += timedelta(days=1)
        counted += is_business_day(day)
    return day
