"""Settings for security, read from the environment (each knob has a line in the README table).

Imported at the end of base.py, so names defined there can be read (and lists such as
INSTALLED_APPS or MIDDLEWARE extended in place) with `from .base import NAME`.
"""

from .base import env  # noqa: F401
