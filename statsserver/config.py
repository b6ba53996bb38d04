"""Settings: one registry drives INI parsing, validation, `statsserver settings` and the docs.

Each setting is declared once in SETTINGS. A value comes from, highest first: a command-line
flag, the environment (`STATSSERVER_<SECTION>_<KEY>`), the settings file, the default.
"""

from __future__ import annotations

import configparser
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import platformdirs

APP = "statsserver"
ENV_CONFIG = "STATSSERVER_CONFIG"


class ConfigError(Exception):
    """A setting, or the settings file, is unusable. The message is meant for the user as is."""


# --- value parsers: each takes the raw string and returns the value or raises ValueError ----

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*", text)
    if not match:
        raise ValueError
    seconds = float(match[1]) * _DURATION_UNITS[match[2] or "s"]
    if seconds <= 0:
        raise ValueError
    return seconds


def parse_optional_duration(text: str) -> float | None:
    return parse_duration(text) if text.strip() else None


def format_duration(seconds: float) -> str:
    for suffix in "ywdhm":
        unit = _DURATION_UNITS[suffix]
        if seconds >= unit and seconds % unit == 0:
            return f"{int(seconds // unit)}{suffix}"
    return f"{seconds:g}s"


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    raise ValueError


def number_between(low: float, high: float, kind: type = float) -> Callable[[str], Any]:
    def parse(text: str):
        value = kind(text.strip())
        if not low <= value <= high:
            raise ValueError
        return value

    return parse


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", text.lower())
    if not match or int(match[1]) <= 0:
        raise ValueError
    return int(match[1]) * _SIZE_UNITS[match[2]]


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.strip().lower() not in choices:
            raise ValueError
        return text.strip().lower()

    return parse


def parse_words(text: str) -> tuple[str, ...]:
    return tuple(word for word in re.split(r"[\s,]+", text.strip()) if word)


def parse_workers(text: str) -> int:
    if text.strip().lower() == "auto":
        # The server's own process needs a core; each worker holds some 40 MB.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return min(2, cores - 1)
    return number_between(0, 32, int)(text)


def parse_text(text: str) -> str:
    return text.strip()


def parse_host(text: str) -> str:
    host = text.strip()
    if not host or any(c.isspace() for c in host):
        raise ValueError
    return host


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    default: str  # as it would be written in settings.conf, so the docs show it verbatim
    parse: Callable[[str], Any]
    allowed: str  # what the error message and the docs say is accepted
    help: str
    path: bool = False  # relative paths are taken from the settings file's folder

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        return f"STATSSERVER_{self.section}_{self.key}".upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("generator", "directory", platformdirs.user_data_dir(APP), parse_text,
            "a folder path", "Where the database (and the server's files) live.", path=True),
    Setting("generator", "database", "statsserver.db", parse_text,
            "a file name", "The SQLite database file, inside `directory`."),
    Setting("generator", "interval", "1", number_between(0.1, 3600),
            "seconds from 0.1 to 3600", "How often a sample is taken; fractions allowed."),
    Setting("generator", "max_age", "", parse_optional_duration,
            "a duration such as 3600s, 90m, 12h, 90d, 2w, 1y, or empty for no cap",
            "The longest anything is kept, at every resolution: caps keep_raw, keep_minutes and "
            "keep_hours. Deletion goes by whole chunks, so data may outlive it by one chunk."),
    Setting("generator", "keep_raw", "7d", parse_duration,
            "a duration such as 3600s, 90m, 12h, 90d, 2w, 1y",
            "How long samples are kept as taken (and their 10-second rollups, and process lists)."),
    Setting("generator", "keep_minutes", "90d", parse_duration,
            "a duration such as 3600s, 90m, 12h, 90d, 2w, 1y",
            "How long the 1-minute and 5-minute rollups (min, max, average) are kept."),
    Setting("generator", "keep_hours", "5y", parse_duration,
            "a duration such as 3600s, 90m, 12h, 90d, 2w, 1y",
            "How long the 30-minute, 2-hour and 8-hour rollups are kept."),
    Setting("generator", "processes", "10", number_between(0, 1000, int),
            "a whole number from 0 to 1000",
            "How many of the top processes (by CPU and by memory) are kept per sample; 0 turns "
            "the process list off."),
    Setting("generator", "plugins_dir", "", parse_text,
            "a folder path, or empty", "A folder of plugin modules (`*.py`) to load.", path=True),
    Setting("generator", "disable", "", parse_words,
            "collector names separated by commas",
            "Built-in or plugin collectors not to run, e.g. `sensors, processes`."),
    Setting("generator", "loopback", "false", parse_bool,
            "true or false", "Whether the loopback interface counts in network traffic."),
    Setting("server", "host", "0.0.0.0", parse_host,
            "a host name or IP address", "The address the server listens on."),
    Setting("server", "port", "5050", number_between(1, 65535, int),
            "a port number from 1 to 65535", "The port the server listens on."),
    Setting("server", "debug", "false", parse_bool,
            "true or false", "Log every request and show detailed errors."),
    Setting("server", "auth", "token", parse_choice("token", "none"),
            "token or none",
            "`token`: reads and writes need the token kept in the data directory (printed at start). "
            "`none`: anyone who can reach the port may read and write; only for a trusted network."),
    Setting("server", "trust_localhost", "true", parse_bool,
            "true or false",
            "Let programs on this machine push data without the token. Set it to false behind a "
            "reverse proxy on the same machine."),
    Setting("server", "certfile", "", parse_text,
            "a PEM certificate file, or empty", "Serve HTTPS with this certificate (and `keyfile`).", path=True),
    Setting("server", "keyfile", "", parse_text,
            "a PEM private key file, or empty", "The private key for `certfile`.", path=True),
    Setting("server", "ingest_port", "0", number_between(0, 65535, int),
            "a port number, or 0 for none",
            "A second port that serves only the data-push routes (the original used 7890)."),
    Setting("server", "max_series_per_source", "2000", number_between(1, 1_000_000, int),
            "a whole number from 1 to 1000000",
            "How many series one pushing source may create; a runaway client cannot fill the disk."),
    Setting("server", "read_workers", "auto", parse_workers,
            "auto, or a whole number from 0 to 32",
            "Processes that answer range queries beside the server's own, so that more cores answer "
            "them; `auto` is one fewer than the cores, at most 2 (each holds some 40 MB), and 0 answers them in the server's process."),
    Setting("server", "max_body", "16M", parse_size,
            "a size such as 512K, 16M or 1G", "The largest request body accepted (after decompression)."),
)

REGISTRY: dict[tuple[str, str], Setting] = {(s.section, s.key): s for s in SETTINGS}
SECTIONS = tuple(dict.fromkeys(s.section for s in SETTINGS))


@dataclass(frozen=True)
class Value:
    setting: Setting
    value: Any
    origin: str  # "default", the settings file's path, "env STATSSERVER_…" or "--flag"


class Config:
    """The resolved settings. `config.generator.interval` or `config["generator", "interval"]`."""

    def __init__(self, values: dict[tuple[str, str], Value], file: Path | None):
        self.values = values
        self.file = file
        for section in SECTIONS:
            fields = {key: v.value for (sec, key), v in values.items() if sec == section}
            setattr(self, section, SimpleNamespace(**fields))

    def __getitem__(self, item: tuple[str, str]) -> Any:
        return self.values[item].value

    @property
    def database_path(self) -> Path:
        return Path(self.generator.directory) / self.generator.database


def candidate_files() -> list[Path]:
    """Where a settings file is looked for when neither --config nor STATSSERVER_CONFIG names one."""
    return [
        Path("settings.conf"),
        Path(platformdirs.user_config_dir(APP)) / "settings.conf",
        Path("/etc/statsserver/settings.conf"),
    ]


def find_file(explicit: str | None, environ: dict[str, str]) -> Path | None:
    named = explicit or environ.get(ENV_CONFIG)
    if named:
        path = Path(named)
        if not path.is_file():
            origin = "--config" if explicit else ENV_CONFIG
            raise ConfigError(f"{path}: settings file not found (named by {origin})")
        return path
    return next((path for path in candidate_files() if path.is_file()), None)


def _parse(setting: Setting, raw: str, where: str, base: Path) -> Any:
    try:
        value = setting.parse(raw)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{where}: [{setting.section}] {setting.key} = {raw!r} is not valid: "
            f"expected {setting.allowed}"
        ) from None
    if setting.path and value:
        value = str((base / Path(value).expanduser()).resolve())
    return value


def read_file(path: Path) -> dict[tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are matched exactly, so a typo is reported, not folded
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (configparser.Error, UnicodeDecodeError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{path}: cannot be read as a settings file: {reason}") from None
    raw: dict[tuple[str, str], str] = {}
    for section in parser.sections():
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{section}]: expected one of "
                + ", ".join(f"[{s}]" for s in SECTIONS)
            )
        for key, text in parser.items(section):
            if (section, key) not in REGISTRY:
                known = ", ".join(k for (s, k) in REGISTRY if s == section)
                raise ConfigError(f"{path}: unknown key [{section}] {key}: expected one of {known}")
            raw[section, key] = text
    return raw


def load(
    config_file: str | None = None,
    overrides: dict[tuple[str, str], str] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Resolve every setting. `overrides` are command-line flags, keyed by (section, key)."""
    environ = dict(os.environ if environ is None else environ)
    file = find_file(config_file, environ)
    from_file = read_file(file) if file else {}
    file_base = file.parent.resolve() if file else Path.cwd()

    values: dict[tuple[str, str], Value] = {}
    for setting in SETTINGS:
        item = (setting.section, setting.key)
        if overrides and overrides.get(item) is not None:
            raw, origin, where, base = overrides[item], f"--{setting.key}", "command line", Path.cwd()
        elif setting.env in environ:
            raw, origin, where, base = environ[setting.env], f"env {setting.env}", f"environment {setting.env}", Path.cwd()
        elif item in from_file:
            raw, origin, where, base = from_file[item], str(file), str(file), file_base
        else:
            raw, origin, where, base = setting.default, "default", "default", Path.cwd()
        values[item] = Value(setting, _parse(setting, raw, where, base), origin)
    _check_together(values)
    return Config(values, file)


def _check_together(values: dict[tuple[str, str], Value]) -> None:
    """Rules that span settings: each message names where the offending value came from."""
    cert, key = values["server", "certfile"], values["server", "keyfile"]
    if bool(cert.value) != bool(key.value):
        given = cert if cert.value else key
        raise ConfigError(f"{_where(given)}: [server] certfile and keyfile go together: set both or neither")
    for value in (cert, key):
        if value.value and not Path(value.value).is_file():
            raise ConfigError(f"{_where(value)}: [server] {value.setting.key} = {value.value!r} is not valid: "
                              "no such file")


def _where(value: Value) -> str:
    return {"default": "default"}.get(value.origin, value.origin.removeprefix("env "))


def describe(config: Config) -> str:
    """The listing `statsserver settings` prints: every setting, its value, where it came from."""
    rows = []
    for value in config.values.values():
        shown = value.value
        if isinstance(shown, tuple):
            shown = ", ".join(shown)
        elif value.setting.parse is parse_duration:
            shown = format_duration(shown)
        elif value.setting.parse is parse_optional_duration:
            shown = format_duration(shown) if shown else "none"
        elif isinstance(shown, bool):
            shown = str(shown).lower()
        elif isinstance(shown, float):
            shown = f"{shown:g}"
        rows.append((value.setting.name, str(shown), value.origin))
    width = max(len(name) for name, _, _ in rows)
    value_width = max(len(shown) for _, shown, _ in rows)
    header = f"settings file: {config.file or 'none found (defaults)'}"
    lines = [f"{name:<{width}}  {shown:<{value_width}}  ({origin})" for name, shown, origin in rows]
    return "\n".join([header, *lines])


def example_file() -> str:
    """An annotated settings.conf with every setting at its default, generated from SETTINGS."""
    lines = [
        "# StatsServer settings. Every key is optional; the value shown is the default.",
        "# Generated by `statsserver settings --example`; `statsserver settings` shows what is in",
        "# force. A single key can be overridden with STATSSERVER_<SECTION>_<KEY>.",
    ]
    for section in SECTIONS:
        lines += ["", f"[{section}]"]
        for setting in (s for s in SETTINGS if s.section == section):
            default = setting.default
            if setting.key == "directory":
                default = "~/.local/share/statsserver"  # the default on Linux, not this machine's
            lines += textwrap.wrap(f"{setting.help} Allowed: {setting.allowed}.", 96,
                                   initial_indent="# ", subsequent_indent="# ")
            lines.append(f"#{setting.key} = {default}".rstrip() if default else f"#{setting.key} =")
    return "\n".join(lines) + "\n"


def docs_table() -> str:
    """The settings reference in docs/settings.md, generated from SETTINGS."""
    lines = ["| setting | default | allowed | environment | what it does |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        default = "platform data folder" if s.key == "directory" else (s.default or "(empty)")
        lines.append(f"| `[{s.section}] {s.key}` | `{default}` | {s.allowed} | `{s.env}` | {s.help} |")
    return "\n".join(lines) + "\n"
