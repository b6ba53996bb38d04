"""What the benchmarks share: their targets, as printed and as their --json lists them, and a
free loopback port.

Each benchmark runs as a script (`python benchmarks/NAME.py`), so this folder is on its path.
"""

from __future__ import annotations

import socket


def target(name: str, value: float, goal: float, unit: str, higher_is_better: bool = False) -> dict:
    met = value >= goal if higher_is_better else value <= goal
    return {"name": name, "value": round(value, 4), "goal": goal, "unit": unit, "met": bool(met)}


def print_targets(targets: list[dict]) -> None:
    for item in targets:
        print(f"target {item['name']}: {item['value']:.3f} {item['unit']} (goal {item['goal']}) "
              f"{'met' if item['met'] else 'NOT MET'}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
