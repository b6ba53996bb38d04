import logging
import threading
import time

from statsserver.collectors.base import Collector, counter, gauge
from statsserver.collectors.sampler import Sampler


class Steady(Collector):
    name = "steady"
    inline = True
    produces = {"steady": gauge("%")}

    def collect(self):
        return {"steady": {"value": 1}}


class Flaky(Collector):
    """Fails on the calls the test chooses."""

    name = "flaky"
    produces = {"flaky": counter("/s")}

    def __init__(self, inline, failing):
        super().__init__()
        self.inline = inline
        self.failing = failing
        self.calls = 0

    def collect(self):
        self.calls += 1
        if self.calls in self.failing:
            raise RuntimeError("sensor bus error")
        return {"flaky": {"count": self.calls * 10}}


class Slow(Collector):
    name = "slow"
    produces = {"slow": gauge()}

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def collect(self):
        self.release.wait(10)
        return {"slow": {"value": 7}}


def test_one_failing_collector_costs_only_itself_and_is_logged_once(caplog):
    flaky = Flaky(inline=True, failing={2, 3})
    sampler = Sampler([flaky, Steady()])
    with caplog.at_level(logging.INFO):
        values = [sampler.sample().values for _ in range(5)]
    assert all(v["steady"] == {"value": 1.0} for v in values)
    assert "flaky" not in values[1] and "flaky" not in values[2]
    assert "flaky" in values[4]
    failures = [r for r in caplog.records if "collector flaky failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info
    assert any("collector flaky works again" in r.getMessage() for r in caplog.records)


def test_a_failing_plugin_in_its_thread_is_isolated_too():
    sampler = Sampler([Flaky(inline=False, failing={1}), Steady()])
    first = sampler.sample()
    assert set(first.values) == {"steady"}
    sampler.sample()
    third = sampler.sample()
    assert set(third.values) == {"steady", "flaky"}
    assert third.metrics["flaky"].unit == "/s"
    sampler.close()


def test_a_slow_plugin_is_skipped_without_holding_up_the_sample(caplog):
    slow = Slow()
    sampler = Sampler([slow, Steady()], plugin_budget=0.2)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        first = sampler.sample()
        second = sampler.sample()  # the first call is still running: not called again
    assert time.monotonic() - started < 1.5
    assert set(first.values) == set(second.values) == {"steady"}
    assert sum("took longer than 0.2 s" in r.getMessage() for r in caplog.records) == 1
    slow.release.set()
    time.sleep(0.1)
    assert sampler.sample().values["slow"] == {"value": 7.0}
    sampler.close()


def test_sample_carries_metadata_and_serialises():
    sample = Sampler([Steady()]).sample()
    data = sample.as_dict()
    assert data["categories"]["steady"] == {"unit": "%", "kind": "gauge", "graph": True, "values": {"value": 1.0}}
    assert abs(data["time"] - time.time()) < 5
