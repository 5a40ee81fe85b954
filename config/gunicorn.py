"""gunicorn's settings (``gunicorn -c python:config.gunicorn``): an access log on stdout in
which customer links, emails, phone numbers and secrets are masked (core.log_masking)."""

from gunicorn.glogging import Logger

from core.log_masking import mask

# Addresses, times, sizes and durations: nothing personal, and numbers the masks would hide.
UNMASKED = {"h", "t", "s", "b", "B", "T", "D", "M", "L", "p", "H", "m"}


class AccessLogger(Logger):
    """A customer's link is a bearer credential valid for months: the request line, path,
    query string and referrer are masked before the access log line is written."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: mask(value) if isinstance(value, str) else value for key, value in atoms.items()
        }


logger_class = AccessLogger
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(L)ss'
