"""Network traffic per interface: bytes, packets, errors and drops per second."""

from __future__ import annotations

import psutil

from .base import Collector, counter


def is_loopback(interface: str) -> bool:
    return interface == "lo" or interface.startswith("lo0") or interface.startswith("Loopback")


class Network(Collector):
    name = "network"
    inline = True
    produces = {
        "network": counter("B/s", description="Bytes received and sent"),
        "network_packets": counter("/s", description="Packets received and sent"),
        "network_errors": counter("/s", description="Errors and drops, in and out"),
    }

    def __init__(self, loopback: bool = False) -> None:
        super().__init__()
        self.loopback = loopback

    def collect(self):
        readings = {}
        for interface, io in psutil.net_io_counters(pernic=True).items():
            if is_loopback(interface) and not self.loopback:
                continue
            readings[f"network.{interface}"] = {"received": io.bytes_recv, "sent": io.bytes_sent}
            readings[f"network_packets.{interface}"] = {
                "received": io.packets_recv, "sent": io.packets_sent}
            readings[f"network_errors.{interface}"] = {
                "errors_in": io.errin, "errors_out": io.errout,
                "drops_in": io.dropin, "drops_out": io.dropout}
        return readings
