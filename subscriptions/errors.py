"""Domain errors of customers and subscriptions."""

from core.errors import ConflictError, TackError


class SubscriptionError(ConflictError):
    code = "invalid_transition"


class SubscriptionInputError(TackError):
    code = "invalid"


class CustomerErased(ConflictError):
    code = "customer_erased"
