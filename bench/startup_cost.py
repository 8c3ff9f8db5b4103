"""Start-up cost of the CLI and of a worker, in fresh processes (docs/benchmarks.md, issue 15).

Prints, per repetition, the wall time of

  dry-run   ``leap-rl train CONFIG --dry-run`` (parse, load the config, print the plan)
  worker    ``python -c "import leap_rl.backends.a2c_task; load_config(CONFIG)"``: what a worker or an
            evaluation run pays before its first environment step
  load      ``load_config(CONFIG)`` alone, timed inside a process that already imported it
  cli       ``python -c "import leap_rl.cli"``, and whether that import loaded torch/gymnasium

and the median of each. Every figure is a fresh interpreter, so caches of earlier runs in this
process do not hide the cost; the operating system's file cache is warm after the first run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEAP_RL = Path(sys.executable).with_name("leap-rl")


def _wall(argv: list[str]) -> float:
    """Seconds a fresh process running ``argv`` takes, start to exit; fails loudly on an error."""
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure_dry_run(config: str) -> float:
    """Wall time of the CLI's dry run of ``config``."""
    return _wall([str(LEAP_RL), "train", config, "--dry-run"])


def measure_worker_start(config: str) -> float:
    """Wall time of what a worker imports and loads before its first step."""
    code = ("import leap_rl.backends.a2c_task; from leap_rl.config import load_config; "
            f"load_config({config!r})")
    return _wall([sys.executable, "-c", code])


def measure_load_config(config: str) -> float:
    """Seconds of one ``load_config`` in a process that has imported leap_rl.config already."""
    code = ("import time; from leap_rl.config import load_config; t = time.perf_counter(); "
            f"load_config({config!r}); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, text=True,
                         capture_output=True).stdout
    return float(out.split()[-1])


def measure_cli_import() -> tuple[float, str]:
    """Wall time of ``import leap_rl.cli`` and which heavy libraries that import loaded."""
    code = ("import sys, leap_rl.cli; print(','.join(m for m in ('torch', 'gymnasium', 'ray') "
            "if m in sys.modules) or '-')")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, text=True,
                         capture_output=True).stdout
    return time.perf_counter() - start, out.split()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/paper.yaml")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"dry-run": [], "worker": [], "load": [], "cli": []}
    loaded = set()
    for _ in range(args.reps):  # interleaved, so a burst of load on the machine hits all rows
        rows["dry-run"].append(measure_dry_run(args.config))
        rows["worker"].append(measure_worker_start(args.config))
        rows["load"].append(measure_load_config(args.config))
        seconds, heavy = measure_cli_import()
        rows["cli"].append(seconds)
        loaded.add(heavy)
    for name, times in rows.items():
        runs = " ".join(f"{t:.2f}" for t in times)
        print(f"{name:8} median {statistics.median(times):.2f} s  (runs: {runs})")
    print(f"import leap_rl.cli loads: {' / '.join(sorted(loaded))}")


if __name__ == "__main__":
    main()
