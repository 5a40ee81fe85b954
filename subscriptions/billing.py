"""The billing seam: every subscription change passes through one small gateway.

Tack is the system of record by default (``LocalBillingGateway``: nothing to carry out). A
company whose billing lives elsewhere points ``TACK_BILLING_GATEWAY`` at an adapter
(``subscriptions.stripe_billing.gateway.StripeGateway``, or its own) with two halves:

- ``command``, called inside the decision's transaction: the plain-data command that carries
  the change out in billing (``None``: nothing to do). It makes no call outside; the command
  is written to the outbox with the ledger row. Raising ``BillingError`` rolls the decision
  back (a change billing could never carry out, such as a plan it does not know).
- ``send``, called by the outbox worker after commit (``core.outbox.billing``), outside any
  transaction, with an idempotency key derived from the ledger entry. It returns what the
  far side created (``{}`` mostly) or raises ``BillingUnavailable`` / ``BillingRefused``.
"""

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from core.errors import TackError


class BillingError(TackError):
    http_status = 502
    code = "billing_unavailable"


class BillingGateway(Protocol):
    def command(
        self,
        *,
        subscription,
        kind: str,
        before: dict,
        after: dict,
        amount: Decimal | None,
        channel: str,
        now: datetime,
    ) -> dict | None:
        """The command carrying ``kind`` out in billing, or None. In the transaction."""

    def send(self, *, command: dict, idempotency_key: str) -> dict:
        """Carry the command out. From the outbox worker, outside any transaction."""


class LocalBillingGateway:
    def command(self, **change) -> dict | None:
        return None

    def send(self, *, command: dict, idempotency_key: str) -> dict:
        return {}


@cache
def _gateway(path: str) -> BillingGateway:
    return import_string(path)()


def billing_gateway() -> BillingGateway:
    return _gateway(settings.TACK_BILLING_GATEWAY)
