"""Run the benchmarks: `python bench/run.py` runs them all, `python bench/run.py NAME` one.

Each benchmark is a module `bench/<name>.py` with a `run()` that prints its figures as
`BENCH <name> <value> <unit>` lines, each a ratio against a baseline measured in the same run,
with the absolute numbers beside it. Each runs in its own process, on its own database (bench/common.py),
so one never sees what another left and the order does not matter. With BENCH_DB=postgres every figure
is printed with a `pg_` prefix. The exit status is 1 if any bench failed; the others still run.
"""

import importlib
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
NOT_BENCHES = {"run", "common", "__init__"}


def available() -> list[str]:
    return sorted(
        p.stem for p in HERE.glob("*.py") if p.stem not in NOT_BENCHES and not p.stem.startswith("_")
    )


def run_one(name: str) -> int:
    """Run one bench in a child process, passing its lines through (prefixed on PostgreSQL)."""
    prefix = "pg_" if os.environ.get("BENCH_DB") == "postgres" else ""
    started = time.perf_counter()
    print(f"# {name}", flush=True)
    child = subprocess.Popen(
        [sys.executable, str(HERE / "run.py"), "--in-process", name],
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if prefix and line.startswith("BENCH ") and not line.startswith(f"BENCH {prefix}"):
            line = f"BENCH {prefix}{line[len('BENCH ') :]}"
        print(line, end="", flush=True)
    code = child.wait()
    status = "took" if code == 0 else f"FAILED (exit {code}) after"
    print(f"# {name} {status} {time.perf_counter() - started:.1f} s", flush=True)
    return code


def main(argv: list[str]) -> int:
    if argv[:1] == ["--in-process"]:
        importlib.import_module(f"bench.{argv[1]}").run()
        return 0
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(
            f"Unknown benchmark(s): {', '.join(unknown)}. Available: {', '.join(available())}",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    failed = [name for name in names if run_one(name) != 0]
    print(f"# {len(names)} bench(es) in {time.perf_counter() - started:.0f} s", flush=True)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
