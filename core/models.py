import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from core.enums import (
    BillingCommandStatus,
    ChangeKind,
    DeliveryPromise,
    EmailStatus,
    WebhookDeliveryStatus,
)
from core.outbound import validate_public_url


class ApiKey(models.Model):
    """A key for the company's own systems. Only a hash of the secret is stored."""

    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'billing sync'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    scopes = models.JSONField(
        default=list, blank=True, help_text="What the key may do (core.enums.ApiScope)."
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The key stops working then; empty: never."
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyRecord(models.Model):
    """The stored answer to a POST sent with an ``Idempotency-Key`` header."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_per_api_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.response_status})"


class OutboundEmail(models.Model):
    """One email to send, written in the same transaction as the change that caused it.

    The row is the truth: a task sends it after commit, a periodic sweep re-enqueues any
    row whose task was lost (broker down, worker killed), and the conditional claim in
    ``core.outbox.email`` makes sure a duplicate task cannot send it twice. ``promise``
    says what happens when a sender stops mid-send (README "Delivery").
    """

    dedupe_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=50, db_index=True)
    promise = models.CharField(
        max_length=13, choices=DeliveryPromise.choices, default=DeliveryPromise.AT_LEAST_ONCE
    )
    customer = models.ForeignKey(
        "subscriptions.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_emails",
    )
    to_email = models.EmailField()
    from_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "outbound email"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="email_pending_due",
                condition=models.Q(status__in=["pending", "sending"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to_email} ({self.status})"


class BillingCommand(models.Model):
    """One decision to carry out in the company's billing system (Stripe), written in the
    decision's transaction by ``core.outbox.billing.billing_command_queue`` and sent by the
    worker after commit (README "Delivery": exactly once through the idempotency key).

    ``payload`` is what the gateway needs, as plain data; the subscription and its ledger
    entry are named by id only (core does not reach into the subscriptions app's tables).
    """

    subscription_id = models.BigIntegerField(db_index=True)
    ledger_event_id = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=20)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=BillingCommandStatus.choices, default=BillingCommandStatus.PENDING
    )
    # A manager's retry starts a new round: a new idempotency key, so billing acts again.
    round = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="billing_pending_due",
                condition=models.Q(status__in=["pending", "sending"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.ledger_event_id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return f"tack-ledger-{self.ledger_event_id}-{self.round}"


class ChangeMark(models.Model):
    """An object whose aggregates must be recounted, written in the same transaction as the
    change. The dashboard's rollup refresh reads the marks, recounts the days they touch and
    deletes the marks it has counted (see core.changes). ``created_at`` is when the change
    counts from: the ledger row's time for a subscription that asked to leave (which may be
    in the past), else when the mark was written."""

    kind = models.CharField(max_length=20, choices=ChangeKind.choices)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"


def webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookEndpoint(models.Model):
    """A URL of the company's billing or CRM that hears of the event types it subscribes to.

    The secret signs every delivery; it is stored as is, because signing needs it.
    """

    name = models.CharField(max_length=100, help_text="Who receives, e.g. 'billing'.")
    url = models.URLField(
        max_length=500,
        validators=[validate_public_url],
        help_text="Receives a signed JSON POST per event (https, a public address).",
    )
    secret = models.CharField(max_length=100, default=webhook_secret, editable=False)
    event_types = models.JSONField(default=list, help_text="The event types sent here.")
    active = models.BooleanField(
        default=True, help_text="An inactive endpoint's deliveries wait until it is active again."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def wants(self, event_type: str) -> bool:
        return self.active and event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event for one endpoint, written in the same transaction as the change behind it.

    Like the email outbox, the row is the truth: a task posts it after commit, the sweep
    re-enqueues what a lost message or a dead worker left behind, and the conditional claim
    in ``core.outbox.webhooks.webhook_deliver`` keeps two workers from posting the same attempt.
    """

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    event_id = models.UUIDField(help_text="The same for every endpoint, retry and replay.")
    event_type = models.CharField(max_length=50, db_index=True)
    sequence = models.PositiveBigIntegerField(
        help_text="Counts the events of one subscription (or customer) upwards."
    )
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(
        max_length=10,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(default=0, help_text="All attempts, replays included.")
    schedule_attempts = models.PositiveIntegerField(
        default=0, help_text="Attempts since the schedule (re)started; drives the backoff."
    )
    schedule_started_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="one_delivery_per_event_and_endpoint"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_pending_due",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["event_id"], name="webhook_event_id"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint.name} ({self.status})"


class WebhookAttempt(models.Model):
    """What the receiver answered to one POST: status, latency, error."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery_id", "number", "pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error[:40]}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSequence(models.Model):
    """The last sequence number given to the events of one scope (a subscription, a customer)."""

    scope = models.CharField(max_length=80, primary_key=True)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.scope}: {self.last}"


def history_user(request=None, **kwargs):
    """The staff user behind a change, for django-simple-history.

    API requests are authenticated by an API key, not a user, so they record none.
    """
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user if isinstance(user, get_user_model()) else None
