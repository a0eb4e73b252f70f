"""Small server-rendered SVG charts: stacked daily bars, a rate line, and labelled horizontal bars.

Why hand-written SVG rather than a chart library: the pages stay free of JavaScript and of any CDN,
a chart is plain markup a test can read, and accessibility is ours to get right: each
chart has a <title> and a <desc>, series are told apart by pattern and direct labels as well as by colour,
and the template puts the same numbers in a table beside it. A library would bring a canvas that screen
readers cannot read, and a few hundred KB to self-host for three chart shapes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

_ids = itertools.count(1)

# Series styles: a colour plus a pattern, so that print-outs and colour-blind readers can tell them apart.
SERIES_STYLES = ("solid-ok", "hatch-bad", "dots-warn", "cross-muted")
# Colours come from the stylesheet (.chart .pat-*): the patterns only give each series its shape.
PATTERNS = """<defs>
<pattern id="{p}-solid-ok" width="6" height="6" patternUnits="userSpaceOnUse">
<rect class="pat-ok" width="6" height="6"/>
</pattern>
<pattern id="{p}-hatch-bad" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect class="pat-bad-bg" width="6" height="6"/><line class="pat-bad" x1="0" y1="0" x2="0" y2="6" stroke-width="3"/>
</pattern>
<pattern id="{p}-dots-warn" width="5" height="5" patternUnits="userSpaceOnUse">
<rect class="pat-warn-bg" width="5" height="5"/><circle class="pat-warn" cx="2.5" cy="2.5" r="1.5"/>
</pattern>
<pattern id="{p}-cross-muted" width="6" height="6" patternUnits="userSpaceOnUse">
<rect class="pat-muted-bg" width="6" height="6"/><path class="pat-muted" d="M0 0L6 6M6 0L0 6" stroke-width="1"/>
</pattern>
</defs>"""


def _fill(prefix: str, style: str) -> str:
    return f"url(#{prefix}-{style})"


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]


def _frame(width: int, height: int, title: str, desc: str, body: str) -> SafeString:
    n = next(_ids)
    return mark_safe(  # noqa: S308 (every text part below is escaped)
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-{n}-title chart-{n}-desc" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMinYMin meet">'
        f'<title id="chart-{n}-title">{escape(title)}</title><desc id="chart-{n}-desc">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def stacked_bars(days: Sequence[date], series: Sequence[Series], *, title: str, desc: str) -> SafeString:
    """One stacked bar per day; a legend with each series' pattern and its total names the series."""
    width, height, left, right, top, bottom = 760, 260, 44, 10, 34, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    prefix = f"p{next(_ids)}"
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    y_max = _nice_max(max(totals, default=0))
    if y_max < 10 and y_max % 2:
        y_max += 1  # an even count keeps the middle gridline a whole number
    parts = [PATTERNS.format(p=prefix)]
    for fraction in (0, 0.5, 1):
        y = top + plot_h - fraction * plot_h
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                left,
                width - right,
                f"{y:.1f}",
                f"{y:.1f}",
                left - 6,
                f"{y + 4:.1f}",
                _number(y_max * fraction),
            )
        )
    slot = plot_w / max(len(days), 1)
    bar = max(min(slot * 0.72, 28), 1)
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        base = float(top + plot_h)
        tip = ", ".join(f"{s.label} {_number(s.values[i])}" for s in series)
        parts.append(format_html("<g><title>{}: {}</title>", f"{day:%b %-d}", tip))
        for s, style in zip(series, SERIES_STYLES, strict=False):
            h = s.values[i] / y_max * plot_h
            if h > 0:
                base -= h
                parts.append(
                    format_html(
                        '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                        f"{x:.1f}",
                        f"{base:.1f}",
                        f"{bar:.1f}",
                        f"{h:.1f}",
                        _fill(prefix, style),
                    )
                )
        parts.append(mark_safe("</g>"))  # noqa: S308
        if len(days) <= 10 or i % max(len(days) // 8, 1) == 0:
            parts.append(
                format_html(
                    '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    f"{x + bar / 2:.1f}",
                    height - 10,
                    f"{day:%b %-d}",
                )
            )
    x = left
    for s, style in zip(series, SERIES_STYLES, strict=False):
        label = f"{s.label} ({_number(sum(s.values))})"
        parts.append(
            format_html(
                '<rect class="swatch" x="{}" y="8" width="14" height="14" fill="{}"/>'
                '<text class="legend" x="{}" y="19">{}</text>',
                x,
                _fill(prefix, style),
                x + 19,
                label,
            )
        )
        x += 19 + 7.2 * len(label) + 18
    return _frame(width, height, title, desc, "".join(str(p) for p in parts))


@dataclass(frozen=True)
class Limit:
    label: str
    value: float
    level: str  # "amber" or "red"


def rate_line(
    days: Sequence[date],
    values: Sequence[float | None],
    *,
    title: str,
    desc: str,
    limits: Sequence[Limit] = (),
) -> SafeString:
    """A percentage per day (gaps where a day had no data), with the managers' limits as labelled lines."""
    width, height, left, right, top, bottom = 760, 220, 44, 96, 14, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = []
    for pct in (0, 50, 100):
        y = top + plot_h - pct / 100 * plot_h
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="axis" x="{}" y="{}" text-anchor="end">{} %</text>',
                left,
                width - right,
                f"{y:.1f}",
                f"{y:.1f}",
                left - 6,
                f"{y + 4:.1f}",
                pct,
            )
        )
    label_y = -1e9
    for limit in sorted(limits, key=lambda lim: -lim.value):
        y = top + plot_h - limit.value / 100 * plot_h
        label_y = max(y + 4, label_y + 13)  # close limits: keep their labels apart
        parts.append(
            format_html(
                '<line class="limit limit-{}" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="limit-label" x="{}" y="{}">{} {} %</text>',
                limit.level,
                left,
                width - right,
                f"{y:.1f}",
                f"{y:.1f}",
                width - right + 4,
                f"{label_y:.1f}",
                limit.label,
                _number(limit.value),
            )
        )
    step = plot_w / max(len(days) - 1, 1)
    runs: list[list[tuple[float, float, float, date]]] = [[]]
    for i, (day, v) in enumerate(zip(days, values, strict=True)):
        if v is None:
            runs.append([])  # a day without data breaks the line
        else:
            runs[-1].append((left + i * step, top + plot_h - v / 100 * plot_h, v, day))
    runs = [run for run in runs if run]
    points = [point for run in runs for point in run]
    for run in runs:
        path = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f} {y:.1f}" for j, (x, y, _, _) in enumerate(run))
        parts.append(format_html('<path class="line" d="{}"/>', path))
    for x, y, v, day in points:
        parts.append(
            format_html(
                '<circle class="point" cx="{}" cy="{}" r="3"><title>{}: {} %</title></circle>',
                f"{x:.1f}",
                f"{y:.1f}",
                f"{day:%b %-d}",
                _number(v),
            )
        )
    if points:
        x, y, v, _ = points[-1]
        parts.append(
            format_html(
                '<text class="end-label" x="{}" y="{}">{} %</text>',
                f"{x + 6:.1f}",
                f"{y - 6:.1f}",
                _number(v),
            )
        )
    for i, day in enumerate(days):
        if len(days) <= 10 or i % max(len(days) // 8, 1) == 0:
            parts.append(
                format_html(
                    '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    f"{left + i * step:.1f}",
                    height - 10,
                    f"{day:%b %-d}",
                )
            )
    if not points:
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="middle">No fingerprint data in this period</text>',
                left + plot_w / 2,
                top + plot_h / 2,
            )
        )
    return _frame(width, height, title, desc, "".join(str(p) for p in parts))


def labelled_bars(items: Sequence[tuple[str, float]], *, title: str, desc: str) -> SafeString:
    """Horizontal bars, each with its label above and its value at its end: readable without colour."""
    width, row_h, left = 760, 40, 8
    height = max(len(items), 1) * row_h + 8
    top_value = max((v for _, v in items), default=0) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        bar_w = max(value / top_value * (width - left - 70), 2)
        short = label if len(label) <= 95 else label[:94] + "…"
        parts.append(
            format_html(
                '<text class="bar-label" x="{}" y="{}">{}</text>'
                '<rect class="hbar" x="{}" y="{}" width="{}" height="14"/>'
                '<text class="bar-value" x="{}" y="{}">{}</text>',
                left,
                y + 12,
                short,
                left,
                y + 18,
                f"{bar_w:.1f}",
                f"{left + bar_w + 6:.1f}",
                y + 30,
                _number(value),
            )
        )
    if not items:
        parts.append(
            format_html('<text class="axis" x="{}" y="24">Nothing failed in this period</text>', left)
        )
    return _frame(width, height, title, desc, "".join(str(p) for p in parts))
