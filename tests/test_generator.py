import sqlite3
import threading
import time

import pytest

from statsserver import generator as generator_module
from statsserver.collectors.base import Collector, counter, gauge
from statsserver.collectors.sampler import Sampler
from statsserver.generator import Generator
from statsserver.storage import Reader


class Clockwork(Collector):
    name = "clockwork"
    inline = True
    produces = {"ticks": counter("/s"), "level": gauge("%")}

    def __init__(self):
        super().__init__()
        self.count = 0

    def collect(self):
        self.count += 1
        return {"ticks": {"count": self.count * 5}, "level": {"now": self.count}}


def run_for(generator: Generator, seconds: float) -> None:
    """Run the generator in a thread for a while, stop it as a signal would, and wait for it."""
    stop = threading.Event()
    thread = threading.Thread(target=generator.run, args=(stop,))
    thread.start()
    threading.Event().wait(seconds)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_generator_samples_on_its_interval_and_stops_with_the_last_sample_committed(make_config):
    config = make_config("interval = 0.1\n")
    generator = Generator(config, sampler=Sampler([Clockwork()]), source="testhost")
    run_for(generator, 1.0)
    written = generator.samples_written
    assert 6 <= written <= 12
    latest = Reader(config.database_path).latest("testhost")
    assert latest["level"]["now"][1] == written  # the last sample taken is the last stored
    assert Reader(config.database_path).sources() == [{"name": "testhost", "interval": 0.1}]


def test_retention_uses_max_age(make_config):
    config = make_config("max_age = 1h\n")
    now = [1_700_000_000.0]
    generator = Generator(config, sampler=Sampler([Clockwork()]), source="h", clock=lambda: now[0])
    generator.open()
    try:
        for _ in range(3):
            sample = generator.sampler.sample()
            generator.writer.write("h", now[0] - 7200, sample.values, sample.metrics)  # two hours old
            generator.writer.write("h", now[0] - 60, sample.values, sample.metrics)
            now[0] += 1
        generator.maintain()
    finally:
        generator.close()
    result = Reader(config.database_path).query("h", now[0] - 10_000, now[0], points=10_000)
    assert len(result["times"]) == 3  # the three recent samples; the old ones are gone
    assert min(result["times"]) > now[0] - 3600


def test_a_store_failure_is_logged_once_and_sampling_goes_on(make_config, caplog):
    caplog.set_level("INFO")
    config = make_config()
    generator = Generator(config, sampler=Sampler([Clockwork()]), source="h")
    generator.open()
    try:
        real = generator.writer.db
        generator.writer.db = real.__class__(":memory:", isolation_level=None)  # no tables: every write fails
        generator.step()
        generator.step()
        assert generator.samples_written == 0
        assert caplog.text.count("samples are dropped until storing works again") == 1
        generator.writer.db = real
        generator.writer._load_catalog()
        generator.step()
        assert generator.samples_written == 1 and "storing samples works again" in caplog.text
    finally:
        generator.close()


def test_maintenance_is_the_collectors_job_while_one_runs(make_config):
    from statsserver.generator import WriterLock, maintain_if_alone
    from statsserver.storage import Writer

    config = make_config()
    writer = Writer(config.database_path)
    collector_lock = WriterLock(config.database_path)
    collector_lock.acquire()
    try:
        assert maintain_if_alone(writer, config) is False
    finally:
        collector_lock.release()
    assert maintain_if_alone(writer, config) is True
    writer.close()


def test_a_collector_waits_briefly_for_a_lock_held_for_maintenance(make_config):
    from statsserver.generator import AlreadyRunning, WriterLock

    config = make_config()
    holder = WriterLock(config.database_path)
    holder.acquire()
    threading.Timer(0.3, holder.release).start()
    waiting = WriterLock(config.database_path)
    waiting.acquire(wait=3.0)  # gets it once the holder lets go
    waiting.release()
    holder.acquire()
    try:
        with pytest.raises(AlreadyRunning, match="a collector is already writing to it"):
            WriterLock(config.database_path).acquire(wait=0.2)
    finally:
        holder.release()


def test_maintenance_runs_beside_the_sampling_and_stops_with_it(make_config, monkeypatch):
    monkeypatch.setattr(generator_module, "MAINTAIN_EVERY_SECONDS", 0.1)
    config = make_config("interval = 0.1\n")
    # Its clock runs a day ahead, so every sample is old enough to leave the head at once.
    generator = Generator(config, sampler=Sampler([Clockwork()]), source="h",
                          clock=lambda: time.time() + 86400)
    run_for(generator, 1.5)
    assert not [t for t in threading.enumerate() if t.name == "maintenance"]
    with sqlite3.connect(config.database_path) as db:
        head = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    # About two rows were written per sample; only those after the last run can remain.
    assert chunks > 0 and head < generator.samples_written
    assert generator.samples_written >= 8  # sampling was not held up
