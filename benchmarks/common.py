"""What the benchmarks share: a target as their --json lists it, and a free loopback port.

Each benchmark runs as a script (`python benchmarks/NAME.py`), so this folder is on its path.
"""

from __future__ import annotations

import socket


def target(name: str, value: float, goal: float, unit: str, higher_is_better: bool = False) -> dict:
    met = value >= goal if higher_is_better else value <= goal
    return {"name": name, "value": round(value, 4), "goal": goal, "unit": unit, "met": bool(met)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
