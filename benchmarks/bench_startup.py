"""CLI start-up against the interpreter floor, as a ratio (median of N runs each).

    python benchmarks/bench_startup.py [--runs 21] [--regular-install] [--python PATH]

The floor is ``python -c pass`` with the same interpreter and site-packages, measured in the
same run, interleaved with the commands so that machine load hits both alike. Each command
is a fresh process of the ``mynaid`` console script, as a user or a kiosk script starts it.
Wall time and CPU time (user + system, from ``getrusage``) are both reported: on a loaded
machine the CPU ratio is the steadier one.

``--regular-install`` first builds a temporary venv with a regular (non-editable) install
of this checkout (``pip install .``): an editable install adds a meta-path finder that
every process imports, which is not what users of a released wheel pay.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: ``{python}`` and ``{mynaid}`` (the console script users run) are filled in.
COMMANDS = {
    "interpreter (python -c pass)": ["{python}", "-c", "pass"],
    "python -c 'import click'": ["{python}", "-c", "import click"],
    "mynaid --version": ["{mynaid}", "--version"],
    "mynaid --help": ["{mynaid}", "--help"],
    "mynaid pin --help": ["{mynaid}", "pin", "--help"],
    "mynaid --emulator readers": ["{mynaid}", "--emulator", "readers"],
    "mynaid --emulator pin status": ["{mynaid}", "--emulator", "pin", "status"],
    "mynaid --emulator info": ["{mynaid}", "--emulator", "info"],
}


def _regular_venv(directory: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    python = directory / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    return python


def _time_once(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one child process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--regular-install", action="store_true")
    args = parser.parse_args()
    temp = None
    python = args.python
    if args.regular_install:
        temp = Path(tempfile.mkdtemp(prefix="mynaid-startup-"))
        python = str(_regular_venv(temp / "venv"))
    # Run from a folder without the checkout, so that a regular install is what is imported.
    cwd = Path(tempfile.gettempdir())
    env_note = "regular install" if args.regular_install else "as installed in " + python
    mynaid = str(Path(python).parent / "mynaid")
    commands = {name: [a.format(python=python, mynaid=mynaid) for a in argv]
                for name, argv in COMMANDS.items()}
    try:
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # warm the page cache once
            _time_once(argv, cwd)
        for _ in range(args.runs):
            for name, argv in commands.items():
                wall, cpu = _time_once(argv, cwd)
                walls[name].append(wall)
                cpus[name].append(cpu)
        floor_name = "interpreter (python -c pass)"
        wall_floor = statistics.median(walls[floor_name])
        cpu_floor = statistics.median(cpus[floor_name])
        print(f"CLI start-up, median of {args.runs} runs ({env_note}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
        print(f"{'command':<34} {'wall ms':>8} {'x floor':>8} {'CPU ms':>8} {'x floor':>8}")
        for name in commands:
            wall = statistics.median(walls[name])
            cpu = statistics.median(cpus[name])
            print(f"{name:<34} {wall * 1000:>8.1f} {wall / wall_floor:>8.2f} "
                  f"{cpu * 1000:>8.1f} {cpu / cpu_floor:>8.2f}")
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
