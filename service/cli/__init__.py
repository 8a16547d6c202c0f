"""The ``tradewinds`` command line (entry point ``service.cli:main``)."""

from service.cli.main import main

__all__ = ["main"]
