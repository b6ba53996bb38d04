"""The embedded time-series store on SQLite: one Writer, any number of read-only Readers."""

from .database import StoreError
from .reader import Reader
from .writer import Writer

__all__ = ["Reader", "StoreError", "Writer"]
