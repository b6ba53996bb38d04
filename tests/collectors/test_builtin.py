"""The built-in collectors on this machine, and on canned sensor readings where it has none."""

from collections import namedtuple

import psutil
import pytest

from statsserver.collectors import Cpu, Disks, Memory, Network, Sensors, System
from statsserver.collectors.base import family
from statsserver.collectors.cpu import busy_and_total
from statsserver.collectors.disks import physical_disks


def two_reads(collector):
    collector.read(now=0.0)
    return collector.read(now=1.0)


@pytest.mark.parametrize("make", [Cpu, Memory, Disks, Network, System])
def test_every_category_is_declared_and_numeric(make):
    readings = two_reads(make())
    assert readings
    for category, values in readings.items():
        assert family(category) in make.produces
        assert values and all(isinstance(v, float) for v in values.values())


def test_cpu_shares_are_percentages_for_total_and_each_core():
    readings = two_reads(Cpu())
    cores = psutil.cpu_count()
    assert set(readings["cpu"]) == {"total", *(f"core{i}" for i in range(cores))}
    assert all(0 <= value <= 100 for value in readings["cpu"].values())
    assert {"user", "system", "iowait", "steal"} <= set(readings["cpu_modes"])
    assert set(readings["load"]) == {"1m", "5m", "15m"}


def test_cpu_busy_time_excludes_idle_iowait_and_guest():
    Times = namedtuple("Times", "user nice system idle iowait irq softirq steal guest guest_nice")
    busy, total = busy_and_total(Times(10, 1, 5, 80, 4, 0, 0, 0, 3, 0))
    assert total == 100 and busy == 16


def test_memory_in_bytes():
    readings = two_reads(Memory())
    assert set(readings["memory"]) == {"used", "available", "cached", "buffers", "total"}
    assert readings["memory"]["total"] == psutil.virtual_memory().total
    assert set(readings["swap"]) == {"used", "total"}


def test_disk_space_per_mount_and_io_per_physical_disk():
    readings = two_reads(Disks())
    assert "/" in readings["disk_free"]
    assert not Disks.produces["disk_free"].graph and Disks.produces["disk_usage"].graph
    io_disks = {category.split(".", 1)[1] for category in readings if category.startswith("disk_io.")}
    assert io_disks and not any(name.startswith(("loop", "ram", "zram")) for name in io_disks)


def test_partitions_are_not_physical_disks(monkeypatch):
    monkeypatch.setattr("os.listdir", lambda path: ["sda", "nvme0n1", "loop0", "zram0"])
    assert physical_disks(["sda", "sda1", "nvme0n1", "nvme0n1p2", "loop0", "zram0"]) == {"sda", "nvme0n1"}


def test_loopback_is_left_out_unless_asked_for():
    assert not any(c.endswith(".lo") for c in two_reads(Network()))
    assert "network.lo" in two_reads(Network(loopback=True))


def test_system_counts():
    readings = two_reads(System())
    assert readings["system"]["processes"] > 1
    assert readings["system"]["threads"] >= readings["system"]["processes"]
    assert readings["uptime"]["uptime"] > 0


Temp = namedtuple("Temp", "label current high critical")
Fan = namedtuple("Fan", "label current")
Battery = namedtuple("Battery", "percent secsleft power_plugged")


def test_sensors_from_canned_readings(monkeypatch):
    monkeypatch.setattr(psutil, "sensors_temperatures",
                        lambda: {"coretemp": [Temp("Core 0", 45.0, 80, 100), Temp("", 47.0, 80, 100)]},
                        raising=False)
    monkeypatch.setattr(psutil, "sensors_fans", lambda: {"thinkpad": [Fan("", 2100)]}, raising=False)
    monkeypatch.setattr(psutil, "sensors_battery", lambda: Battery(81.5, 3600, False), raising=False)
    sensors = Sensors()
    assert sensors.unavailable() is None
    assert sensors.read(now=0.0) == {
        "temperature": {"coretemp Core 0": 45.0, "coretemp 1": 47.0},
        "fans": {"thinkpad 0": 2100.0},
        "battery": {"charge": 81.5},
        "battery_state": {"plugged_in": 0.0},
        "battery_time_left": {"time_left": 3600.0},
    }


def test_plugged_in_battery_has_no_time_left(monkeypatch):
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {}, raising=False)
    monkeypatch.setattr(psutil, "sensors_fans", lambda: {}, raising=False)
    monkeypatch.setattr(psutil, "sensors_battery",
                        lambda: Battery(100, psutil.POWER_TIME_UNLIMITED, True), raising=False)
    assert Sensors().read(now=0.0) == {"battery": {"charge": 100.0}, "battery_state": {"plugged_in": 1.0}}


def test_no_sensors_means_unavailable_with_a_reason(monkeypatch):
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {}, raising=False)
    monkeypatch.setattr(psutil, "sensors_fans", lambda: {}, raising=False)
    monkeypatch.setattr(psutil, "sensors_battery", lambda: None, raising=False)
    assert Sensors().unavailable() == "no temperature sensors, fans or battery found"


def test_a_sensor_read_error_is_no_crash(monkeypatch):
    def broken():
        raise OSError("hwmon went away")

    monkeypatch.setattr(psutil, "sensors_temperatures", broken, raising=False)
    monkeypatch.setattr(psutil, "sensors_fans", lambda: {"f": [Fan("", 900)]}, raising=False)
    monkeypatch.setattr(psutil, "sensors_battery", lambda: None, raising=False)
    assert Sensors().read(now=0.0) == {"fans": {"f 0": 900.0}}
