"""localstripe 1.15.10, extended with what Tack's Stripe gateway and sync need, run as its
own process by the tests: ``python -m tests.stripe_server --port N``.

localstripe is a stateful fake Stripe (customers, legacy plans, subscriptions) on aiohttp.
Added here, stateful like the rest (README "Connecting Stripe" lists them):

- ``/v1/prices`` (create, retrieve, list): a price is stored as a localstripe plan of the
  same id, so subscription items accept ``price`` and show it back.
- ``pause_collection``, ``discounts`` (a coupon on a subscription), ``proration_behavior``
  and an empty ``cancel_at`` on ``POST /v1/subscriptions/{id}``; a canceled subscription
  refuses every change and a second cancellation (400, as Stripe does).
- ``/v1/customers/{id}/balance_transactions`` (create, list) moving the customer's balance.
- ``Idempotency-Key``: a POST or DELETE repeated with the same key answers the first
  answer again without acting twice (Stripe keeps keys for 24 hours).
- ``POST /_config/tack/seed`` (bulk customers, prices and subscriptions in one call, so a sync of
  10,000 subscriptions is quick to set up), ``GET /_config/tack/requests`` (how many calls each
  idempotency key saw) and ``POST /_config/tack/fail`` (answer the next N API calls with 500).

The store is kept in memory only: localstripe pickles it to /tmp after every write.
"""

import argparse
import socket
import time

from aiohttp import web
from localstripe import resources
from localstripe import server as ls
from localstripe.errors import UserError
from localstripe.resources import Customer, Plan, Subscription, SubscriptionItem, store

resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None
resources.schedule_webhook = lambda event: None  # nobody listens; Tack's tests sign their own

app = ls.app
_idempotent: dict[str, tuple[int, bytes]] = {}
_key_calls: dict[str, int] = {}
_failures = {"left": 0}


# --- Prices ------------------------------------------------------------------------------


def _price(plan: Plan) -> dict:
    return {
        "id": plan.id,
        "object": "price",
        "active": plan.active,
        "currency": plan.currency,
        "unit_amount": plan.amount,
        "nickname": plan.nickname,
        "product": plan.product,
        "recurring": {"interval": plan.interval, "interval_count": plan.interval_count},
        "type": "recurring",
        "lookup_key": (plan.metadata or {}).get("lookup_key"),
        "metadata": {k: v for k, v in (plan.metadata or {}).items() if k != "lookup_key"},
        "created": plan.created,
        "livemode": False,
    }


def _price_create(data: dict) -> Plan:
    recurring = data.get("recurring") or {}
    plan = Plan(
        id=data.get("id") or "price_" + resources.random_id(14),
        amount=data.get("unit_amount"),
        currency=data.get("currency"),
        interval=recurring.get("interval"),
        interval_count=recurring.get("interval_count", 1),
        product=data.get("product"),
        nickname=data.get("nickname"),
        metadata=data.get("metadata"),
    )
    return plan


async def price_create(request):
    data = await ls.get_post_data(request) or {}
    return ls.json_response(_price(_price_create(data)))


async def price_retrieve(request):
    plan = Plan._api_retrieve(request.match_info["id"])
    return ls.json_response(_price(plan))


async def price_list(request):
    query = ls.unflatten_data(request.query)
    listing = Plan._api_list_all("/v1/prices", limit=query.get("limit"))
    listing._starting_after = query.get("starting_after")
    listing._list = [p for p in listing._list if p.id.startswith("price_")]
    listing._compute_starting_pos()
    start = listing._starting_pos
    page = listing._list[start : start + listing._limit]
    return ls.json_response(
        {
            "object": "list",
            "url": "/v1/prices",
            "data": [_price(p) for p in page],
            "has_more": listing.has_more,
        }
    )


SubscriptionItem.price = property(lambda self: _price(self.plan))


def _items_with_plans(items):
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and "price" in item:
                item["plan"] = item.pop("price")
    return items


# --- Subscriptions -----------------------------------------------------------------------

Subscription.pause_collection = None
Subscription.discounts = ()
Subscription.proration_behavior = None
_original_init = Subscription.__init__
_original_update = Subscription._update
_original_delete = Subscription._api_delete.__func__


def _init(self, *args, items=None, **kwargs):
    _original_init(self, *args, items=_items_with_plans(items), **kwargs)


def _update(
    self, pause_collection=None, discounts=None, proration_behavior=None, cancel_at=None, **data
):
    if self.status == "canceled":
        raise UserError(
            400,
            "A canceled subscription can only update its cancellation_details and metadata.",
            {"code": "resource_missing"},
        )
    if proration_behavior is not None:
        if proration_behavior not in ("create_prorations", "none", "always_invoice"):
            raise UserError(400, "Invalid proration_behavior")
        self.proration_behavior = proration_behavior
    if pause_collection is not None:
        if pause_collection == "":
            self.pause_collection = None
        else:
            behavior = pause_collection.get("behavior")
            if behavior not in ("keep_as_draft", "mark_uncollectible", "void"):
                raise UserError(400, "Invalid pause_collection[behavior]")
            resumes_at = resources.try_convert_to_int(pause_collection.get("resumes_at"))
            self.pause_collection = {"behavior": behavior, "resumes_at": resumes_at}
    if discounts is not None:
        applied = []
        for entry in discounts or []:
            coupon = resources.Coupon._api_retrieve(entry["coupon"])
            applied.append(
                {"object": "discount", "coupon": coupon._export(), "start": int(time.time())}
            )
        self.discounts = applied
        self.discount = applied[0] if applied else None
    if cancel_at == "":
        self.cancel_at = None
    elif cancel_at is not None:
        data["cancel_at"] = cancel_at
    if "items" in data:
        data["items"] = _items_with_plans(data["items"])
    if data:
        _original_update(self, **data)


def _delete(cls, id):
    subscription = Subscription._api_retrieve(id)
    if subscription.status == "canceled":
        raise UserError(400, "This subscription has already been canceled.")
    subscription.canceled_at = int(time.time())
    return _original_delete(cls, id)


Subscription.__init__ = _init
Subscription._update = _update
Subscription._api_delete = classmethod(_delete)


# --- Customer balance transactions -------------------------------------------------------

_balance_transactions: dict[str, list[dict]] = {}


async def balance_transaction_create(request):
    customer = Customer._api_retrieve(request.match_info["id"])
    data = await ls.get_post_data(request) or {}
    amount = resources.try_convert_to_int(data.get("amount"))
    if not isinstance(amount, int) or not data.get("currency"):
        raise UserError(400, "amount and currency are required")
    customer.balance = (getattr(customer, "balance", 0) or 0) + amount
    entry = {
        "id": "cbtxn_" + resources.random_id(14),
        "object": "customer_balance_transaction",
        "amount": amount,
        "currency": data["currency"],
        "customer": customer.id,
        "description": data.get("description"),
        "ending_balance": customer.balance,
        "metadata": data.get("metadata") or {},
        "type": "adjustment",
        "created": int(time.time()),
    }
    _balance_transactions.setdefault(customer.id, []).append(entry)
    return ls.json_response(entry)


async def balance_transaction_list(request):
    customer = Customer._api_retrieve(request.match_info["id"])
    entries = _balance_transactions.get(customer.id, [])
    return ls.json_response({"object": "list", "data": entries[::-1], "has_more": False})


# --- Idempotency keys and injected failures ----------------------------------------------


def _lean(obj) -> dict:
    """A customer as Stripe lists it (localstripe's own export walks every related object)."""
    return {
        key: value
        for key, value in vars(obj).items()
        if not key.startswith("_") and not isinstance(value, resources.StripeObject)
    }


def _lean_subscription(subscription) -> dict:
    """A subscription as Stripe lists it (current period on the item, as in today's API)."""
    items = []
    for item in subscription.items._list:
        period = item._current_period()
        items.append(
            {
                "id": item.id,
                "object": "subscription_item",
                "price": _price(item.plan),
                "quantity": item.quantity,
                "current_period_start": period["start"],
                "current_period_end": period["end"],
            }
        )
    fields = [
        "id",
        "created",
        "customer",
        "status",
        "start_date",
        "cancel_at_period_end",
        "cancel_at",
        "canceled_at",
        "ended_at",
        "pause_collection",
        "metadata",
        "livemode",
    ]
    return {
        "object": "subscription",
        **{name: getattr(subscription, name, None) for name in fields},
        "discounts": list(subscription.discounts or ()),
        "items": {"object": "list", "data": items, "has_more": False},
    }


# The list a paging client is walking: (prefix, status, store size, last id served) →
# (the items, where the next page starts). A seed forgets them; an object changed in place
# shows its new state on a later page, but the list keeps the members it had at the first
# (as a list walked while its objects change can in Stripe).
_walking: dict[tuple, tuple[list, int]] = {}


def _fast_list(request, prefix: str, export) -> web.Response:
    """Lists of customers and subscriptions in time linear in the store, not quadratic: the
    next page of a list being walked (``starting_after`` the last id served, nothing added or
    removed since) continues from where the last one ended."""
    query = ls.unflatten_data(request.query)
    limit = int(query.get("limit", 10))
    status = query.get("status")
    after = query.get("starting_after")
    walked = _walking.pop((prefix, status, len(store), after), None) if after else None
    if walked is not None:
        items, start = walked
    else:
        items = [value for key, value in store.items() if key.startswith(prefix)]
        if prefix == "subscription:" and status != "all":
            items = [s for s in items if (s.status == status if status else s.status != "canceled")]
        start = 0
        if after:
            ids = [item.id for item in items]
            start = ids.index(after) + 1
    page = items[start : start + limit]
    if page and len(items) > start + limit:
        if len(_walking) > 20:  # walks abandoned half-way
            _walking.clear()
        _walking[prefix, status, len(store), page[-1].id] = (items, start + limit)
    return web.json_response(  # compact: localstripe's indented JSON is most of a page's time
        {
            "object": "list",
            "url": request.path,
            "data": [export(item) for item in page],
            "has_more": len(items) > start + limit,
        }
    )


@web.middleware
async def idempotency_middleware(request, handler):
    if not request.path.startswith("/v1/"):
        return await handler(request)
    if request.method == "GET" and set(request.query) <= {"limit", "starting_after", "status"}:
        if request.path == "/v1/customers":
            return _fast_list(request, "customer:", _lean)
        if request.path == "/v1/subscriptions":
            return _fast_list(request, "subscription:", _lean_subscription)
    if _failures["left"] > 0:
        _failures["left"] -= 1
        return ls.json_response(
            {"error": {"type": "api_error", "message": "Injected failure"}}, status=500
        )
    key = request.headers.get("Idempotency-Key")
    if request.method not in ("POST", "DELETE") or not key:
        return await handler(request)
    _key_calls[key] = _key_calls.get(key, 0) + 1
    if key in _idempotent:
        status, body = _idempotent[key]
        return web.Response(
            status=status,
            body=body,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = await handler(request)
    except UserError as error:
        response = error.to_response()
    if response.status < 500:
        _idempotent[key] = (response.status, response.body)
    return response


async def seed(request):
    """Bulk state: {"prices": [...price create params], "customers": [{id, email, name}],
    "subscriptions": [{id, customer, price, status, start_date, cancel_at_period_end,
    cancel_at}]}."""
    data = await request.json()
    _walking.clear()
    for price in data.get("prices", []):
        if store.get("plan:" + price["id"]) is None:
            _price_create(price)
    for fields in data.get("customers", []):
        # Not through Customer(): its creation event exports every subscription in the store.
        customer = object.__new__(Customer)
        customer.__dict__.update(
            id=fields["id"],
            object="customer",
            created=int(time.time()),
            livemode=False,
            name=fields.get("name"),
            email=fields.get("email"),
            description=None,
            phone=None,
            address=None,
            invoice_settings={"default_payment_method": None},
            metadata={},
            business_vat_id=None,
            preferred_locales=None,
            account_balance=0,
            delinquent=False,
            discount=None,
            shipping=None,
            default_source=None,
            sources=resources.List("/v1/customers/" + fields["id"] + "/sources"),
            tax_ids=resources.List("/v1/customers/" + fields["id"] + "/tax_ids"),
        )
        store["customer:" + customer.id] = customer
    for fields in data.get("subscriptions", []):
        subscription = object.__new__(Subscription)
        subscription.id = fields["id"]
        subscription.object = "subscription"
        subscription.created = subscription.start_date = fields.get("start_date") or int(
            time.time()
        )
        subscription.livemode = False
        subscription.customer = fields["customer"]
        subscription.metadata = {}
        subscription.status = fields.get("status", "active")
        subscription.cancel_at_period_end = fields.get("cancel_at_period_end", False)
        subscription.canceled_at = subscription.ended_at = None
        subscription.cancel_at = fields.get("cancel_at")
        subscription.discount = None
        subscription.quantity = 1
        subscription.tax_percent = subscription.default_tax_rates = None
        subscription.application_fee_percent = subscription.latest_invoice = None
        subscription.trial_end = subscription.trial_start = None
        subscription.trial_period_days = subscription.billing_cycle_anchor = None
        subscription.trial_from_plan = False
        subscription._enable_incomplete_payments = True
        subscription.items = resources.List("/v1/subscription_items?subscription=" + fields["id"])
        store["subscription:" + subscription.id] = subscription
        subscription.items._list.append(
            SubscriptionItem(subscription=subscription.id, plan=fields["price"])
        )
    return ls.json_response({"ok": True})


async def requests_seen(request):
    return ls.json_response(_key_calls)


async def fail_next(request):
    data = await request.json()
    _failures["left"] = int(data.get("count", 0))
    return ls.json_response({"ok": True})


app.middlewares.insert(0, idempotency_middleware)
for method, path, handler in (
    ("POST", "/v1/prices", price_create),
    ("GET", "/v1/prices", price_list),
    ("GET", "/v1/prices/{id}", price_retrieve),
    ("POST", "/v1/customers/{id}/balance_transactions", balance_transaction_create),
    ("GET", "/v1/customers/{id}/balance_transactions", balance_transaction_list),
    ("POST", "/_config/tack/seed", seed),
    ("GET", "/_config/tack/requests", requests_seen),
    ("POST", "/_config/tack/fail", fail_next),
):
    app.router.add_route(method, path, handler)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    web.run_app(app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
