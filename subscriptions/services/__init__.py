"""Every change to customers and subscriptions: ``customers``, a subscription's
``lifecycle``, ``sync`` from the company's own systems, all through ``ledger`` (one ledger
row per change, in the change's transaction)."""

from subscriptions.errors import CustomerErased, SubscriptionError, SubscriptionInputError
from subscriptions.services.customers import (
    customer_create_many,
    customer_identity_erase,
    customer_set_consent_fields,
    customer_upsert,
)
from subscriptions.services.lifecycle import (
    MAX_DISCOUNT_MONTHS,
    MAX_PAUSE_MONTHS,
    DueChanges,
    subscription_apply_due_changes,
    subscription_cancel,
    subscription_change_plan,
    subscription_grant_credit,
    subscription_grant_discount,
    subscription_pause,
    subscription_reactivate,
    subscription_resume,
    subscription_schedule_cancel,
    subscription_start,
    subscription_withdraw_cancel,
)
from subscriptions.services.sync import subscription_start_many, subscription_upsert

__all__ = [
    "MAX_DISCOUNT_MONTHS",
    "MAX_PAUSE_MONTHS",
    "CustomerErased",
    "DueChanges",
    "SubscriptionError",
    "SubscriptionInputError",
    "customer_create_many",
    "customer_identity_erase",
    "customer_set_consent_fields",
    "customer_upsert",
    "subscription_apply_due_changes",
    "subscription_cancel",
    "subscription_change_plan",
    "subscription_grant_credit",
    "subscription_grant_discount",
    "subscription_pause",
    "subscription_reactivate",
    "subscription_resume",
    "subscription_schedule_cancel",
    "subscription_start",
    "subscription_start_many",
    "subscription_upsert",
    "subscription_withdraw_cancel",
]
