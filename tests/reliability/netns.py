"""A network namespace joined to this one by a veth pair: a real non-loopback peer for a test.

The server runs inside the namespace on its veth address; the test talks to it from here, so the
server sees a client address that is not loopback, exactly as a request from the network would
arrive. Nothing outside the pair can reach it. Everything is removed on close, also on failure.
"""

from __future__ import annotations

import os
import subprocess


class NamespaceUnavailable(Exception):
    pass


def _ip(*arguments: str) -> None:
    done = subprocess.run(["ip", *arguments], capture_output=True, text=True)
    if done.returncode:
        raise NamespaceUnavailable(f"ip {' '.join(arguments)}: {done.stderr.strip()}")


class Namespace:
    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.name = f"ssrel{tag}"
        self.outside, self.inside = f"ssro{tag}", f"ssri{tag}"
        # 198.18.0.0/15 is reserved for benchmarking networks: it collides with nothing here.
        block = os.getpid() % 250
        self.host_address, self.address = f"198.18.{block}.1", f"198.18.{block}.2"

    def __enter__(self) -> "Namespace":
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
            _ip("link", "set", self.inside, "netns", self.name)
            _ip("addr", "add", f"{self.host_address}/30", "dev", self.outside)
            _ip("link", "set", self.outside, "up")
            _ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.address}/30", "dev", self.inside)
            _ip("netns", "exec", self.name, "ip", "link", "set", self.inside, "up")
            _ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def command(self, arguments: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *arguments]

    def close(self) -> None:
        # Deleting the namespace deletes its end of the pair, and with it the other end.
        subprocess.run(["ip", "link", "del", self.outside], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def __exit__(self, *exc) -> None:
        self.close()
