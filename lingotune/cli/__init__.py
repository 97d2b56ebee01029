"""The ``lingotune`` command line: the top layer, which parses arguments and calls the run plan or
one component; nothing below imports it."""

from lingotune.cli.app import app

__all__ = ["app"]
