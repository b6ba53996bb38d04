"""What collecting costs: CPU per sample and a running collector's CPU share and memory.

    python benchmarks/collector.py [--quick] [--json PATH]

Two measures, each against a baseline taken in the same run, since this machine is shared:

1. CPU time per sample (median, p95), each side in a fresh process: StatsServer's full default
   collection with the top-10 processes, stored in SQLite, against the plain psutil loop that
   reads the same things and stores nothing.
2. `statsserver collect --interval 1` and the plain psutil loop at 1 s, side by side for 60 s
   (15 s with --quick): the share of one core each used, and their memory (RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from common import print_targets, target

ROOT = Path(__file__).resolve().parent.parent
TOP = 10
MiB = 1024 * 1024


# --- the two sides -------------------------------------------------------------------------

def plain_psutil_sample() -> list:
    """The plain way: every reading through psutil's everyday calls, nothing stored."""
    psutil.cpu_percent(percpu=True)
    psutil.virtual_memory()
    psutil.swap_memory()
    for partition in psutil.disk_partitions():
        psutil.disk_usage(partition.mountpoint)
    psutil.disk_io_counters(perdisk=True)
    psutil.net_io_counters(pernic=True)
    psutil.sensors_temperatures()
    psutil.sensors_fans()
    psutil.sensors_battery()
    processes = [p.info for p in psutil.process_iter(["name", "cpu_percent", "memory_info"])]
    by_cpu = sorted(processes, key=lambda info: info["cpu_percent"] or 0.0, reverse=True)[:TOP]
    by_memory = sorted(processes, key=lambda info: info["memory_info"].rss if info["memory_info"] else 0,
                       reverse=True)[:TOP]
    return by_cpu + by_memory


def statsserver_sampler(directory: str):
    sys.path.insert(0, str(ROOT))
    from statsserver import config as settings
    from statsserver.generator import Generator

    config = settings.load(overrides={("generator", "directory"): directory,
                                      ("generator", "processes"): str(TOP)}, environ={})
    generator = Generator(config, source="bench")
    generator.open()
    return generator.step, generator.close


def measure_in_this_process(kind: str, samples: int, spacing: float) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        if kind == "statsserver":
            step, close = statsserver_sampler(directory)
        else:
            step, close = plain_psutil_sample, lambda: None
        step()  # the first sample primes counters and caches on both sides
        costs = []
        for _ in range(samples):
            time.sleep(spacing)
            started = time.process_time()
            step()
            costs.append((time.process_time() - started) * 1000)
        close()
    costs.sort()
    return {"median_ms": statistics.median(costs), "p95_ms": costs[int(0.95 * (len(costs) - 1))],
            "samples": samples}


def plain_loop(interval: float) -> None:
    next_tick = time.monotonic()
    while True:
        plain_psutil_sample()
        next_tick += interval
        time.sleep(max(0.0, next_tick - time.monotonic()))


# --- the harness ---------------------------------------------------------------------------

def per_sample(kind: str, samples: int, spacing: float) -> dict:
    output = subprocess.run([sys.executable, __file__, "--measure", kind, "--samples", str(samples),
                             "--spacing", str(spacing)], capture_output=True, text=True, check=True)
    return json.loads(output.stdout)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def side_by_side(seconds: float) -> dict:
    """Both collectors at 1 s for `seconds`, after a warm-up, measured from outside."""
    with tempfile.TemporaryDirectory() as directory:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVER_")}
        commands = {
            "statsserver": [sys.executable, "-m", "statsserver", "collect", "--interval", "1",
                            "--directory", directory, "--processes", str(TOP)],
            "plain": [sys.executable, __file__, "--loop"],
        }
        running = {name: subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                   for name, command in commands.items()}
        try:
            time.sleep(5)  # start-up and imports are not the steady state
            handles = {name: psutil.Process(p.pid) for name, p in running.items()}
            start_cpu = {name: cpu_seconds(h) for name, h in handles.items()}
            started = time.monotonic()
            peak_rss = {name: 0 for name in handles}
            while time.monotonic() - started < seconds:
                time.sleep(1)
                for name, handle in handles.items():
                    peak_rss[name] = max(peak_rss[name], handle.memory_info().rss)
            elapsed = time.monotonic() - started
            result = {
                name: {"cpu_share_percent": (cpu_seconds(handle) - start_cpu[name]) / elapsed * 100,
                       "peak_rss_mib": peak_rss[name] / MiB}
                for name, handle in handles.items()
            }
            database = Path(directory) / "statsserver.db"
            result["statsserver"]["database_bytes"] = sum(
                p.stat().st_size for p in database.parent.glob(database.name + "*") if p.is_file())
        finally:
            for process in running.values():
                process.terminate()
                process.wait(timeout=20)
    result["seconds"] = elapsed
    return result



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="finish within a minute")
    parser.add_argument("--json", metavar="PATH", help="write the figures and targets here")
    parser.add_argument("--measure", choices=["statsserver", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--spacing", type=float, default=0.05, help=argparse.SUPPRESS)
    parser.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(measure_in_this_process(arguments.measure, arguments.samples, arguments.spacing)))
        return
    if arguments.loop:
        plain_loop(1.0)
        return

    samples, seconds = (60, 15) if arguments.quick else (300, 60)
    ours = per_sample("statsserver", samples, 0.05)
    plain = per_sample("plain", samples, 0.05)
    running = side_by_side(seconds)

    sample_ratio = ours["median_ms"] / plain["median_ms"]
    share_ratio = running["statsserver"]["cpu_share_percent"] / running["plain"]["cpu_share_percent"]
    rows = [
        ("CPU per sample, median (ms)", ours["median_ms"], plain["median_ms"], sample_ratio),
        ("CPU per sample, p95 (ms)", ours["p95_ms"], plain["p95_ms"], ours["p95_ms"] / plain["p95_ms"]),
        (f"running at 1 s for {running['seconds']:.0f} s: CPU (% of a core)",
         running["statsserver"]["cpu_share_percent"], running["plain"]["cpu_share_percent"], share_ratio),
        ("running at 1 s: peak RSS (MiB)", running["statsserver"]["peak_rss_mib"],
         running["plain"]["peak_rss_mib"], running["statsserver"]["peak_rss_mib"] / running["plain"]["peak_rss_mib"]),
    ]
    print(f"processes on this machine: {len(psutil.pids())}, cores: {psutil.cpu_count()}")
    print(f"{'measure':<52} {'statsserver':>12} {'plain psutil':>12} {'ratio':>7}")
    for name, value, baseline, ratio in rows:
        print(f"{name:<52} {value:>12.3f} {baseline:>12.3f} {ratio:>7.2f}")
    print(f"database after the run: {running['statsserver']['database_bytes'] / MiB:.2f} MiB "
          "(plain psutil stores nothing)")

    targets = [
        target("collect at 1 s: CPU share of one core", running["statsserver"]["cpu_share_percent"], 0.5, "%"),
        target("collect at 1 s: peak RSS", running["statsserver"]["peak_rss_mib"], 40, "MiB"),
        target("collect at 1 s: CPU share / plain psutil loop", share_ratio, 0.8, "ratio"),
        target("CPU per sample (median) / plain psutil loop", sample_ratio, 0.8, "ratio"),
    ]
    print_targets(targets)
    if arguments.json:
        report = {
            "benchmark": "collector", "quick": arguments.quick,
            "machine": {"cores": psutil.cpu_count(), "processes": len(psutil.pids()),
                        "python": platform.python_version(), "platform": platform.platform()},
            "per_sample": {"statsserver": ours, "plain": plain},
            "running": running,
            "targets": targets,
        }
        Path(arguments.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
