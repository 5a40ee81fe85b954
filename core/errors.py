"""The base of every domain error. Views and the API turn these into 4xx answers in one place."""


class TackError(Exception):
    """A business rule said no. ``message`` is translatable and safe to show to the user."""

    http_status = 400
    code = "invalid"

    def __init__(self, message, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ConflictError(TackError):
    """The object is not in a state that allows this (e.g. pausing a cancelled subscription)."""

    http_status = 409
    code = "conflict"


class NotFoundError(TackError):
    http_status = 404
    code = "not_found"
