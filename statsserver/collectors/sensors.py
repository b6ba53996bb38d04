"""Temperatures, fans and battery, where the machine has them (a VM usually has none)."""

from __future__ import annotations

import psutil

from .base import Collector, gauge


def _read(name: str):
    reader = getattr(psutil, name, None)  # not every platform has every sensor function
    if reader is None:
        return None
    try:
        return reader()
    except (OSError, RuntimeError):
        return None


def _entries(groups) -> dict[str, float]:
    """{chip: [entry(label, current, …)]} -> {"chip label": current}, unique labels."""
    values = {}
    for chip, entries in (groups or {}).items():
        for index, entry in enumerate(entries):
            label = f"{chip} {entry.label}" if entry.label else f"{chip} {index}"
            values[label] = entry.current
    return values


class Sensors(Collector):
    name = "sensors"
    inline = True
    produces = {
        "temperature": gauge("°C", description="Temperature per sensor"),
        "fans": gauge("RPM", description="Fan speed"),
        "battery": gauge("%", description="Battery charge"),
        "battery_state": gauge("", graph=False, description="Plugged in (1) or not (0)"),
        "battery_time_left": gauge("s", graph=False, description="Time left on battery"),
    }

    def unavailable(self):
        if not (self.collect()):
            return "no temperature sensors, fans or battery found"
        return None

    def collect(self):
        readings = {
            "temperature": _entries(_read("sensors_temperatures")),
            "fans": _entries(_read("sensors_fans")),
        }
        battery = _read("sensors_battery")
        if battery is not None:
            readings["battery"] = {"charge": battery.percent}
            if battery.power_plugged is not None:
                readings["battery_state"] = {"plugged_in": int(battery.power_plugged)}
            if battery.secsleft not in (psutil.POWER_TIME_UNKNOWN, psutil.POWER_TIME_UNLIMITED):
                readings["battery_time_left"] = {"time_left": battery.secsleft}
        return {category: values for category, values in readings.items() if values}
