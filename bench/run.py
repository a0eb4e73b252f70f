"""Run the benchmarks: `python bench/run.py` runs them all, `python bench/run.py NAME` one.

Each benchmark is a module `bench/<name>.py` with a `run()` that prints its figures as
`BENCH <name> <value> <unit>` lines, each a ratio against a baseline measured in the same run,
with the absolute numbers beside it.
"""

import importlib
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def available() -> list[str]:
    return sorted(
        p.stem for p in HERE.glob("*.py") if p.stem not in {"run", "__init__"} and not p.stem.startswith("_")
    )


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(
            f"Unknown benchmark(s): {', '.join(unknown)}. Available: {', '.join(available())}",
            file=sys.stderr,
        )
        return 2
    for name in names:
        started = time.perf_counter()
        print(f"# {name}", flush=True)
        importlib.import_module(f"bench.{name}").run()
        print(f"# {name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
