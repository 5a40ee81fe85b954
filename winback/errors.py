"""The win-back's domain errors."""

from core.errors import ConflictError


class ComebackError(ConflictError):
    code = "comeback_conflict"
