"""Memory of a 250,000-row CSV export through the streaming view (goal: growth < 50 MB).

The export runs through the real view (test Client, logged-in manager) and the whole body is consumed;
tracemalloc measures the peak of Python allocations during it. The data set (250,000 generated
certificates) is made once into the temp directory and reused.
"""

from __future__ import annotations

import time
import tracemalloc

from bench.common import size
from bench.list_pages import logged_in_session, setup_django

ROWS = size(250_000, 2_000)


def run() -> None:
    setup_django(ROWS, name="export")
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.cookies["sessionid"] = logged_in_session("manager")
    url = f"{reverse('certificates:list')}?_export=csv"

    tracemalloc.start()
    started = time.perf_counter()
    baseline, _ = tracemalloc.get_traced_memory()
    response = client.get(url)
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    seconds = time.perf_counter() - started
    tracemalloc.stop()
    assert lines >= ROWS + 1, lines  # a header and every row (a cell may hold a newline, so >=)
    growth_mb = (peak - baseline) / 1e6
    print(f"BENCH export_rows {lines - 1} rows", flush=True)
    print(f"BENCH export_csv_mb {size / 1e6:.1f} MB", flush=True)
    print(f"BENCH export_seconds {seconds:.1f} s", flush=True)
    print(f"BENCH export_peak_mem_growth_mb {growth_mb:.1f} MB", flush=True)
    print(f"BENCH export_peak_mem_vs_csv_size {growth_mb * 1e6 / size:.3f} x", flush=True)
