"""The old name of the site's formatting library (``formats``): ``{% load money %}`` still works."""

from .formats import register  # noqa: F401
