"""The billing seam: every subscription change passes through one small gateway.

Tack is the system of record by default (``LocalBillingGateway`` accepts everything).
A company whose billing lives elsewhere adds an adapter that implements ``apply`` and
points ``TACK_BILLING_GATEWAY`` at it; raising ``BillingError`` rolls the change back.
"""

from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from core.errors import TackError


class BillingError(TackError):
    http_status = 502
    code = "billing_unavailable"


class BillingGateway(Protocol):
    def apply(self, *, subscription, kind: str, before: dict, after: dict) -> None:
        """Carry out ``kind`` in billing, or raise BillingError. Called inside the transaction."""


class LocalBillingGateway:
    def apply(self, *, subscription, kind: str, before: dict, after: dict) -> None:
        return None


@cache
def _gateway(path: str) -> BillingGateway:
    return import_string(path)()


def billing_gateway() -> BillingGateway:
    return _gateway(settings.TACK_BILLING_GATEWAY)
