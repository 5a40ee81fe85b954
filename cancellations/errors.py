"""The cancellation flow's domain errors (each becomes an HTTP error in one place)."""

from core.errors import ConflictError, TackError


class CancellationError(ConflictError):
    code = "cancellation_conflict"


class CaseAlreadyDecided(CancellationError):
    code = "case_closed"


class CancellationInputError(TackError):
    code = "invalid"
