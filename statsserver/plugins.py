"""Finding collectors: built-ins, installed packages' entry points, and modules in plugins_dir.

A plugin that fails to import, or whose hook raises, is logged and left out; the rest go on.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import sys
from pathlib import Path

import pluggy

from . import hooks
from .collectors.base import Collector

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "statsserver"


def _import_file(path: Path):
    name = f"statsserver_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def plugin_manager(config) -> pluggy.PluginManager:
    from . import collectors as builtin

    manager = pluggy.PluginManager("statsserver")
    manager.add_hookspecs(hooks)
    manager.register(builtin, name="builtin")
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            manager.register(entry_point.load(), name=f"entry point {entry_point.name}")
        except Exception:
            log.exception("plugin %s (entry point) failed to load; skipped", entry_point.name)
    folder = config.generator.plugins_dir
    if folder:
        if not Path(folder).is_dir():
            log.warning("plugins_dir %s is not a folder; no plugins loaded from it", folder)
        else:
            for path in sorted(Path(folder).glob("*.py")):
                try:
                    manager.register(_import_file(path), name=str(path))
                except Exception:
                    log.exception("plugin %s failed to load; skipped", path)
    return manager


def load_collectors(config) -> list[Collector]:
    """Every collector that plugins offer, less the disabled and those this machine cannot run."""
    manager = plugin_manager(config)
    disabled = set(config.generator.disable)
    found: list[Collector] = []
    # Each implementation is called on its own, so that one that raises costs only itself.
    for implementation in manager.hook.statsserver_collectors.get_hookimpls():
        try:
            offered = list(implementation.function(config=config) or [])
        except Exception:
            log.exception("plugin %s failed to list its collectors; skipped", implementation.plugin_name)
            continue
        for collector in offered:
            if not isinstance(collector, Collector):
                log.error("plugin %s offered %r, which is not a Collector; skipped",
                          implementation.plugin_name, collector)
            elif collector.name in disabled:
                log.info("collector %s is disabled in settings", collector.name)
            else:
                found.append(collector)
    names = [collector.name for collector in found]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        log.warning("more than one collector is named %s; their categories may collide",
                    ", ".join(sorted(duplicates)))
    usable = []
    for collector in found:
        try:
            reason = collector.unavailable()
        except Exception as error:  # a broken check means it cannot run either
            reason = f"its availability check failed: {error!r}"
        if reason:
            log.info("collector %s skipped: %s", collector.name, reason)
        else:
            usable.append(collector)
    return usable
