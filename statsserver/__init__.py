"""StatsServer: a machine's resources and their history, in a browser.

For plugin authors, everything needed is here: `Collector`, `gauge`, `counter` and `hookimpl`.
"""

from .collectors.base import COUNTER, GAUGE, Collector, Metric, counter, gauge
from .hooks import hookimpl

__version__ = "0.1.0"
__all__ = ["COUNTER", "GAUGE", "Collector", "Metric", "counter", "gauge", "hookimpl", "__version__"]
