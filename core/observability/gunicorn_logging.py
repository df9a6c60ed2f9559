"""gunicorn's own loggers (access and error) through the redaction filter.

gunicorn writes its access and error logs with handlers of its own that no Django
LOGGING setting reaches. The access line quotes the request line (path and query string
as sent), the referer and the user agent, so a card number in a URL would be written as
is. This logger class puts core.observability.redaction.RedactionFilter on every handler gunicorn
sets up (stdout, files, syslog), on start and on every configuration reload.
"""

from __future__ import annotations

from gunicorn import glogging

from core.observability.redaction import RedactionFilter


class RedactingLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, RedactionFilter) for f in handler.filters):
                    handler.addFilter(RedactionFilter())
