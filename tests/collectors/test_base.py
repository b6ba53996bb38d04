import math

import pytest

from statsserver.collectors.base import COUNTER, GAUGE, Collector, Rates, counter, gauge


class Canned(Collector):
    """Replays readings given by the test, as if they had come from the machine."""

    name = "canned"
    produces = {
        "traffic": counter("B/s"),
        "busy": counter("%", scale=0.1, maximum=100),
        "level": gauge("%"),
    }

    def __init__(self, readings):
        super().__init__()
        self.readings = iter(readings)

    def collect(self):
        return next(self.readings)


def test_first_sample_of_a_counter_gives_no_value_not_zero():
    collector = Canned([{"traffic.eth0": {"received": 1000}, "level": {"x": 5}}])
    assert collector.read(now=10.0) == {"level": {"x": 5.0}}


def test_counter_becomes_a_per_second_rate():
    collector = Canned([{"traffic.eth0": {"received": 1000}}, {"traffic.eth0": {"received": 5000}}])
    collector.read(now=10.0)
    assert collector.read(now=12.0) == {"traffic.eth0": {"received": 2000.0}}


def test_counter_reset_or_wrap_gives_no_negative_rate_then_resumes():
    collector = Canned([
        {"traffic.eth0": {"received": 2**32 - 10}},
        {"traffic.eth0": {"received": 20}},       # wrapped, or the machine rebooted
        {"traffic.eth0": {"received": 120}},
    ])
    collector.read(now=1.0)
    assert collector.read(now=2.0) == {}
    assert collector.read(now=3.0) == {"traffic.eth0": {"received": 100.0}}


def test_vanished_device_drops_its_state_and_starts_afresh():
    collector = Canned([
        {"traffic.usb0": {"received": 100}},
        {"traffic.usb0": {"received": 200}},
        {},                                        # unplugged
        {"traffic.usb0": {"received": 50_000}},    # plugged back: no rate across the absence
        {"traffic.usb0": {"received": 50_100}},
    ])
    assert collector.read(now=1.0) == {}
    assert collector.read(now=2.0) == {"traffic.usb0": {"received": 100.0}}
    assert collector.read(now=3.0) == {}
    assert len(collector._rates) == 0
    assert collector.read(now=4.0) == {}
    assert collector.read(now=5.0) == {"traffic.usb0": {"received": 100.0}}


def test_scale_and_maximum():
    # busy_time in ms: 1020 ms of busy time in one second is jitter; it reads 100 %, not 102 %.
    collector = Canned([{"busy": {"sda": 0, "sdb": 0}}, {"busy": {"sda": 500, "sdb": 1020}}])
    collector.read(now=0.0)
    assert collector.read(now=1.0) == {"busy": {"sda": 50.0, "sdb": 100.0}}


def test_clock_that_did_not_advance_gives_no_rate():
    collector = Canned([{"traffic.x": {"a": 1}}, {"traffic.x": {"a": 2}}])
    collector.read(now=5.0)
    assert collector.read(now=5.0) == {}


def test_missing_and_non_finite_values_are_left_out():
    collector = Canned([{"level": {"a": None, "b": math.nan, "c": math.inf, "d": 3}}])
    assert collector.read(now=0.0) == {"level": {"d": 3.0}}


def test_undeclared_category_is_an_error_that_names_it():
    collector = Canned([{"temperature": {"cpu": 40}}])
    with pytest.raises(ValueError, match="'canned' returned category 'temperature'"):
        collector.read(now=0.0)


def test_declarations():
    assert counter("B/s").kind == COUNTER and gauge("B", graph=False).kind == GAUGE
    assert gauge("B", graph=False).graph is False


def test_rates_keyed_by_anything():
    rates = Rates()
    rates.start_round()
    assert rates.rate((1, 100.0), 5.0, now=0.0) is None
    rates.start_round()
    assert rates.rate((1, 100.0), 7.0, now=2.0) == 1.0
    assert rates.rate((1, 200.0), 7.0, now=2.0) is None  # same pid, other start: another process
