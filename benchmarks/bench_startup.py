"""CLI start-up against the interpreter floor, as a ratio (median of N runs each).

    python benchmarks/bench_startup.py [--runs 21] [--regular-install] [--python PATH]
                                       [--baseline REF]

The floor is ``python -c pass`` with the same interpreter and site-packages, measured in the
same run, interleaved with the commands so that machine load hits both alike. Each command
is a fresh process of the ``mynaid`` console script, as a user or a kiosk script starts it.
Wall time and CPU time (user + system, from ``getrusage``) are both reported: on a loaded
machine the CPU ratio is the steadier one.

``--regular-install`` first builds a temporary venv with a regular (non-editable) install
of this checkout (``pip install .``): an editable install adds a meta-path finder that
every process imports, which is not what users of a released wheel pay. ``--baseline main``
also installs git ``main`` the same way and interleaves its runs with this checkout's, so
before and after are measured under the same load.
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


#: The floors each command is compared with: the bare interpreter, and click's import (what
#: any click command line pays before its first line).
PEERS = ("interpreter (python -c pass)", "python -c 'import click'")


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


def _baseline_venv(ref: str, directory: Path) -> Path:
    """A regular install of the checkout's git ``ref`` (e.g. ``main``): the before figure."""
    import io
    import tarfile

    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                             check=True, capture_output=True).stdout
    source = directory / "src"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    subprocess.run([sys.executable, "-m", "venv", str(directory / "venv")], check=True)
    python = directory / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--regular-install", action="store_true")
    parser.add_argument("--baseline", metavar="REF",
                        help="also measure a regular install of git REF (e.g. main), "
                             "interleaved with this one in the same run")
    args = parser.parse_args()
    temp = Path(tempfile.mkdtemp(prefix="mynaid-startup-"))
    python = args.python
    try:
        if args.regular_install:
            python = str(_regular_venv(temp / "venv"))
        setups = {"this": python}
        if args.baseline:
            setups[args.baseline] = str(_baseline_venv(args.baseline, temp / "baseline"))
        # Run from a folder without the checkout, so that a regular install is what is
        # imported.
        cwd = Path(tempfile.gettempdir())
        env_note = "regular install" if args.regular_install else "as installed in " + python
        commands = {(setup, name): [a.format(python=py, mynaid=str(Path(py).parent / "mynaid"))
                                    for a in argv]
                    for name, argv in COMMANDS.items() for setup, py in setups.items()}
        walls: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        cpus: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        for argv in commands.values():  # warm the page cache once
            _time_once(argv, cwd)
        for _ in range(args.runs):
            for key, argv in commands.items():
                wall, cpu = _time_once(argv, cwd)
                walls[key].append(wall)
                cpus[key].append(cpu)
        print(f"CLI start-up, median of {args.runs} runs ({env_note}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
        print(f"{'command':<34} {'install':<8} {'wall ms':>8} {'x floor':>8} {'x click':>8} "
              f"{'CPU ms':>8} {'x floor':>8} {'x click':>8}")
        for name in COMMANDS:
            for setup in setups:
                wall = statistics.median(walls[setup, name])
                cpu = statistics.median(cpus[setup, name])
                floors = [(statistics.median(walls[setup, peer]),
                           statistics.median(cpus[setup, peer])) for peer in PEERS]
                print(f"{name:<34} {setup:<8} {wall * 1000:>8.1f} {wall / floors[0][0]:>8.2f} "
                      f"{wall / floors[1][0]:>8.2f} {cpu * 1000:>8.1f} "
                      f"{cpu / floors[0][1]:>8.2f} {cpu / floors[1][1]:>8.2f}")
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
