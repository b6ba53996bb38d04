"""The `statsserver` command."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import threading
import time

from . import __version__, config as settings
from .generator import AlreadyRunning, Generator, build_sampler
from .storage import StoreError

log = logging.getLogger("statsserver")

# The settings a command offers as flags of their own; any other is reachable with --set.
FLAGS = {
    "run": ["directory", "database", "interval", "max_age", "keep_raw", "processes", "plugins_dir", "host", "port"],
    "collect": ["directory", "database", "interval", "max_age", "keep_raw", "processes", "plugins_dir"],
    "serve": ["directory", "database", "host", "port"],
}


def _add_setting_flags(parser: argparse.ArgumentParser, keys: list[str]) -> None:
    for key in keys:
        setting = next(s for s in settings.SETTINGS if s.key == key)
        parser.add_argument(f"--{key.replace('_', '-')}", dest=f"setting:{setting.section}:{key}",
                            metavar=key.upper(), help=f"{setting.help} ([{setting.section}] {key})")


# Every setting by name in --help: only some have flags of their own, and the others should
# not have to be looked up elsewhere to be found.
SETTINGS_EPILOG = ("Settings come from, highest first: flags, --set, STATSSERVER_<SECTION>_<KEY>, the "
                   "settings file, defaults. Every setting: "
                   + ", ".join(setting.name for setting in settings.SETTINGS)
                   + ". `statsserver settings` shows each one's value and what it does.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statsserver",
        description="Samples this machine's resources into SQLite and serves their history.",
        epilog=SETTINGS_EPILOG)
    parser.add_argument("--version", action="version", version=f"statsserver {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH",
                        help=f"settings file (else ${settings.ENV_CONFIG}, ./settings.conf, the user "
                             "config folder, /etc/statsserver/settings.conf)")
    common.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override any setting, e.g. --set generator.loopback=true")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="collect and serve in one process", epilog=SETTINGS_EPILOG)
    _add_setting_flags(run, FLAGS["run"])
    collect = commands.add_parser("collect", parents=[common], help="sample into the database (the generator)",
                                  epilog=SETTINGS_EPILOG)
    _add_setting_flags(collect, FLAGS["collect"])
    collect.add_argument("--once", action="store_true",
                         help="print one sample as JSON and store nothing: what this machine offers")
    serve = commands.add_parser("serve", parents=[common], help="serve the API and web app", epilog=SETTINGS_EPILOG)
    _add_setting_flags(serve, FLAGS["serve"])
    listing = commands.add_parser("settings", parents=[common], help="list every setting, its value and origin")
    output = listing.add_mutually_exclusive_group()
    output.add_argument("--example", action="store_true", help="print an annotated settings.conf")
    output.add_argument("--docs", action="store_true", help="print the settings reference (Markdown)")
    return parser


def _overrides(arguments: argparse.Namespace) -> dict[tuple[str, str], str]:
    overrides = {}
    for assignment in arguments.set:
        name, _, value = assignment.partition("=")
        section, _, key = name.strip().partition(".")
        if not _ or (section, key) not in settings.REGISTRY:
            raise settings.ConfigError(
                f"--set {assignment!r}: expected SECTION.KEY=VALUE with a known setting, such as "
                "generator.interval=5")
        overrides[section, key] = value
    for dest, value in vars(arguments).items():
        if dest.startswith("setting:") and value is not None:
            _, section, key = dest.split(":")
            overrides[section, key] = value
    return overrides


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum, frame):
        if not stop.is_set():  # under `serve`/`run`, uvicorn has said it already
            log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def collect_once(config) -> dict:
    sampler = build_sampler(config)
    try:
        sampler.sample()  # counters and process CPU need a first reading to measure against
        time.sleep(min(config.generator.interval, 1.0))
        sample = sampler.sample()
    finally:
        sampler.close()
    return {"source": socket.gethostname(), **sample.as_dict()}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        config = settings.load(arguments.config, _overrides(arguments))
    except settings.ConfigError as error:
        print(f"statsserver: error: {error}", file=sys.stderr)
        return 2
    verbose = arguments.verbose or config.server.debug
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if arguments.command == "settings":
        if arguments.example:
            print(settings.example_file(), end="")
        elif arguments.docs:
            print(settings.docs_table(), end="")
        else:
            print(settings.describe(config))
        return 0
    if arguments.command == "collect" and arguments.once:
        logging.getLogger().setLevel(logging.WARNING)  # the JSON is the output; keep it clean
        print(json.dumps(collect_once(config), indent=2, ensure_ascii=False))
        return 0
    stop = _stop_on_signals()
    try:
        if arguments.command == "collect":
            Generator(config).run(stop)
        else:
            from .server.runner import ServerError, serve  # the collector alone never loads the web stack

            try:
                serve(config, Generator(config) if arguments.command == "run" else None, stop)
            except ServerError as error:
                print(f"statsserver: error: {error}", file=sys.stderr)
                return 1
    except (StoreError, AlreadyRunning) as error:
        print(f"statsserver: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
