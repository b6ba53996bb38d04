import json
import logging
import re
import sys
from pathlib import Path

import pytest

from statsserver.collectors.sampler import Sampler
from statsserver.plugins import load_collectors

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def documented_example() -> str:
    (code,) = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    return code


@pytest.fixture
def weather_file(tmp_path):
    path = tmp_path / "station.json"
    path.write_text(json.dumps({"temperature": 12.5, "feels_like": 10.0, "battery": 3.1}))
    return path


def install(folder, name, code):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(code)


def test_the_documented_example_plugin_runs(tmp_path, make_config, weather_file):
    plugins = tmp_path / "plugins"
    install(plugins, "weather", documented_example().replace('"/run/weather-station.json"', repr(str(weather_file))))
    config = make_config(f"plugins_dir = {plugins}\n")
    collectors = load_collectors(config)
    assert "weather" in [c.name for c in collectors]
    sampler = Sampler([c for c in collectors if c.name == "weather"])
    sampler.sample()
    sample = sampler.sample()
    assert sample.values["weather"] == {"outside": 12.5, "feels like": 10.0}
    assert sample.metrics["weather"].unit == "°C"
    assert sample.metrics["weather_station"].graph is False
    assert sample.values["weather_reads"]["reads"] > 0
    sampler.close()


def test_missing_source_skips_the_plugin_with_one_line(tmp_path, make_config, caplog):
    plugins = tmp_path / "plugins"
    install(plugins, "weather", documented_example().replace(
        '"/run/weather-station.json"', repr(str(tmp_path / "absent.json"))))
    with caplog.at_level(logging.INFO):
        collectors = load_collectors(make_config(f"plugins_dir = {plugins}\n"))
    assert "weather" not in [c.name for c in collectors]
    assert any("collector weather skipped" in r.getMessage() and "absent.json not found" in r.getMessage()
               for r in caplog.records)


def test_broken_plugins_are_logged_and_the_rest_load(tmp_path, make_config, caplog, weather_file):
    plugins = tmp_path / "plugins"
    install(plugins, "a_syntax", "def oops(:\n")
    install(plugins, "b_raises", "import statsserver\n@statsserver.hookimpl\n"
                                 "def statsserver_collectors(config):\n    raise RuntimeError('no')\n")
    install(plugins, "c_wrong_type", "import statsserver\n@statsserver.hookimpl\n"
                                     "def statsserver_collectors(config):\n    return ['not a collector']\n")
    install(plugins, "weather", documented_example().replace('"/run/weather-station.json"', repr(str(weather_file))))
    with caplog.at_level(logging.INFO):
        names = [c.name for c in load_collectors(make_config(f"plugins_dir = {plugins}\n"))]
    assert "weather" in names and "cpu" in names
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "a_syntax.py failed to load" in messages
    assert "b_raises.py failed to list its collectors" in messages
    assert "which is not a Collector" in messages


def test_disabled_collectors_are_not_loaded(make_config):
    names = [c.name for c in load_collectors(make_config("disable = disks, network\n"))]
    assert "disks" not in names and "network" not in names and "cpu" in names


def test_entry_point_plugins_load(tmp_path, make_config, monkeypatch, weather_file):
    site = tmp_path / "site"
    package = "statsserver_weather_test"
    install(site, package, documented_example().replace('"/run/weather-station.json"', repr(str(weather_file))))
    metadata = site / "statsserver_weather_test-1.0.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: statsserver-weather-test\nVersion: 1.0\n")
    (metadata / "entry_points.txt").write_text(f"[statsserver]\nweather = {package}\n")
    monkeypatch.syspath_prepend(str(site))
    names = [c.name for c in load_collectors(make_config())]
    assert "weather" in names
    sys.modules.pop(package, None)


def test_missing_plugins_dir_is_a_warning_not_a_crash(tmp_path, make_config, caplog):
    with caplog.at_level(logging.WARNING):
        collectors = load_collectors(make_config(f"plugins_dir = {tmp_path / 'nowhere'}\n"))
    assert collectors and "is not a folder" in caplog.text
