import os
import re

import pytest

from statsserver import config as settings
from statsserver.config import ConfigError, load


def write(tmp_path, text, name="settings.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings, "candidate_files", lambda: [tmp_path / "settings.conf"])
    config = load(environ={})
    assert config.file is None
    assert config.generator.interval == 1.0
    assert config.generator.max_age is None  # no cap: the keep_* settings decide
    assert config.generator.keep_raw == 7 * 86400 and config.generator.keep_hours == 5 * 365 * 86400
    assert config.generator.processes == 10
    assert config.server.port == 5050 and config.server.host == "0.0.0.0"
    assert all(value.origin == "default" for value in config.values.values())


def test_original_layout_is_read(tmp_path):
    path = write(tmp_path, "[generator]\ndirectory = data\ndatabase = stats.db\ninterval = 2.5\n"
                           "max_age = 90d\n\n[server]\nport = 7890\ndebug = yes\n")
    config = load(path, environ={})
    assert config.database_path == tmp_path / "data" / "stats.db"  # relative to the file
    assert config.generator.interval == 2.5
    assert config.generator.max_age == 90 * 86400
    assert config.server.port == 7890 and config.server.debug is True
    assert config.values["server", "port"].origin == path


@pytest.mark.parametrize("text, expected", [
    ("3600s", 3600), ("3600", 3600), ("90m", 5400), ("12h", 43200), ("90d", 90 * 86400),
    ("2w", 14 * 86400), ("1y", 365 * 86400), ("1.5h", 5400),
])
def test_durations(text, expected):
    assert settings.parse_duration(text) == expected
    assert settings.parse_duration(settings.format_duration(expected)) == expected


@pytest.mark.parametrize("text, fragment", [
    ("[generator]\ninterval = fast\n", "[generator] interval = 'fast' is not valid: expected seconds from 0.1 to 3600"),
    ("[generator]\ninterval = 0\n", "[generator] interval = '0' is not valid"),
    ("[generator]\nmax_age = 3 fortnights\n", "[generator] max_age = '3 fortnights' is not valid: expected a duration"),
    ("[generator]\nprocesses = -1\n", "[generator] processes = '-1' is not valid: expected a whole number from 0 to 1000"),
    ("[server]\nport = 70000\n", "[server] port = '70000' is not valid: expected a port number"),
    ("[server]\ndebug = maybe\n", "[server] debug = 'maybe' is not valid: expected true or false"),
    ("[server]\nread_workers = many\n", "[server] read_workers = 'many' is not valid: expected auto, or a whole number"),
    ("[generator]\nintervall = 1\n", "unknown key [generator] intervall: expected one of directory, database, interval"),
    ("[web]\ntheme = dark\n", "unknown section [web]: expected one of [generator], [server]"),
    ("interval = 1\n", "cannot be read as a settings file: File contains no section headers"),
    ("[generator]\ninterval = 1\ninterval = 2\n", "cannot be read as a settings file"),
])
def test_bad_settings_name_file_section_key_and_value(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load(path, environ={})
    message = str(error.value)
    assert message.startswith(path + ": ")
    assert fragment in message
    assert "\n" not in message


def test_read_workers_auto_leaves_the_server_a_core_and_takes_at_most_two(tmp_path, monkeypatch):
    for cores, workers in ((1, 0), (2, 1), (3, 2), (64, 2)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
        assert load(write(tmp_path, "[server]\nread_workers = auto\n"), environ={}).server.read_workers == workers
    assert load(write(tmp_path, "[server]\nread_workers = 3\n"), environ={}).server.read_workers == 3


def test_missing_named_file(tmp_path):
    with pytest.raises(ConfigError, match=r"settings file not found \(named by --config\)"):
        load(str(tmp_path / "nope.conf"), environ={})
    with pytest.raises(ConfigError, match=r"named by STATSSERVER_CONFIG"):
        load(environ={"STATSSERVER_CONFIG": str(tmp_path / "nope.conf")})


def test_layering_flag_over_environment_over_file_over_default(tmp_path):
    path = write(tmp_path, "[generator]\ninterval = 5\nprocesses = 3\n[server]\nport = 6000\n")
    config = load(path, overrides={("generator", "interval"): "7"},
                  environ={"STATSSERVER_GENERATOR_INTERVAL": "6", "STATSSERVER_SERVER_PORT": "6001"})
    assert config.generator.interval == 7 and config.values["generator", "interval"].origin == "--interval"
    assert config.server.port == 6001
    assert config.values["server", "port"].origin == "env STATSSERVER_SERVER_PORT"
    assert config.generator.processes == 3 and config.values["generator", "processes"].origin == path
    assert config.generator.database == "statsserver.db"


def test_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^environment STATSSERVER_SERVER_PORT: \[server\] port = 'x'"):
        load(write(tmp_path, ""), environ={"STATSSERVER_SERVER_PORT": "x"})


def test_lookup_order(tmp_path, monkeypatch):
    here, user, system = (tmp_path / name for name in ("here", "user", "etc"))
    for folder, port in ((here, 1), (user, 2), (system, 3)):
        folder.mkdir()
        (folder / "settings.conf").write_text(f"[server]\nport = {port}\n")
    monkeypatch.setattr(settings, "candidate_files", lambda: [here / "settings.conf", user / "settings.conf",
                                                              system / "settings.conf"])
    assert load(environ={}).server.port == 1
    (here / "settings.conf").unlink()
    assert load(environ={}).server.port == 2
    (user / "settings.conf").unlink()
    assert load(environ={}).server.port == 3
    named = write(tmp_path, "[server]\nport = 4\n", "named.conf")
    assert load(environ={"STATSSERVER_CONFIG": named}).server.port == 4
    explicit = write(tmp_path, "[server]\nport = 5\n", "explicit.conf")
    assert load(explicit, environ={"STATSSERVER_CONFIG": named}).server.port == 5


def test_default_candidates_follow_the_documented_order():
    names = [str(path) for path in settings.candidate_files()]
    assert names[0] == "settings.conf"
    assert names[1].endswith("statsserver/settings.conf") and names[1] != names[2]
    assert names[2] == "/etc/statsserver/settings.conf"


def test_describe_lists_every_setting_with_origin(tmp_path):
    path = write(tmp_path, "[generator]\nmax_age = 12h\ndisable = sensors, processes\n")
    text = settings.describe(load(path, environ={"STATSSERVER_SERVER_PORT": "6000"}))
    for setting in settings.SETTINGS:
        assert re.search(rf"^{re.escape(setting.name)} ", text, re.M), setting.name
    assert re.search(rf"^generator.max_age +12h +\({re.escape(path)}\)$", text, re.M)
    assert re.search(r"^generator.disable +sensors, processes ", text, re.M)
    assert re.search(r"^server.port +6000 +\(env STATSSERVER_SERVER_PORT\)$", text, re.M)
    assert re.search(r"^generator.interval +1 +\(default\)$", text, re.M)


def test_example_file_is_valid_and_uncommenting_it_gives_the_defaults(tmp_path):
    example = settings.example_file()
    uncommented = re.sub(r"^#(\w+ =)", r"\1", example, flags=re.M)
    uncommented = uncommented.replace("~/.local/share/statsserver", str(tmp_path))
    config = load(write(tmp_path, uncommented), environ={})
    for setting in settings.SETTINGS:
        if setting.key != "directory":
            assert config[setting.section, setting.key] == setting.parse(setting.default), setting.name


def test_certfile_and_keyfile_go_together_and_must_exist(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not checked here")
    path = write(tmp_path, f"[server]\ncertfile = {cert}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(path)}: \[server\] certfile and keyfile go together"):
        load(path, environ={})
    path = write(tmp_path, f"[server]\ncertfile = {cert}\nkeyfile = missing.pem\n")
    with pytest.raises(ConfigError, match=r"\[server\] keyfile = '.*missing.pem' is not valid: no such file"):
        load(path, environ={})
