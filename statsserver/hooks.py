"""The plugin hooks. A plugin is a module with functions marked `@statsserver.hookimpl`."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("statsserver")
hookimpl = pluggy.HookimplMarker("statsserver")


@hookspec
def statsserver_collectors(config):
    """Return a list of Collector instances to sample every interval.

    `config` is the resolved settings (`config.generator.interval`, …).
    """
