"""Import customers and subscriptions from a CSV file, row by row, through the services.

Each row is validated with the API's serializers and applied in its own transaction, so
a bad row is reported with its line number and the good rows are imported. Upserting by
external id makes a re-run change nothing.
"""

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from rest_framework.exceptions import ValidationError

from core.errors import TackError
from subscriptions import services
from subscriptions.actors import Actor
from subscriptions.enums import Channel
from subscriptions.serializers import CustomerSerializer, SubscriptionSerializer

COLUMNS = [
    "customer_external_id",
    "name",
    "email",
    "phone",
    "locale",
    "country",
    "customer_since",
    "marketing_consent",
    "subscription_external_id",
    "plan",
    "status",
    "started_at",
    "current_period_end",
    "monthly_amount",
    "paused_until",
    "cancel_at",
    "cancelled_at",
]
REQUIRED = ["customer_external_id", "name", "customer_since", "subscription_external_id", "plan"]
OPTIONAL_SUBSCRIPTION = [
    "status",
    "started_at",
    "current_period_end",
    "monthly_amount",
    "paused_until",
    "cancel_at",
    "cancelled_at",
]


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


# CSV cells are text: "yes" and "1" are the file's way to say true.
TEXT_VALUES = {"text_values": True}


def _import_row(row: dict[str, str], actor: Actor) -> bool:
    missing = [name for name in REQUIRED if not (row.get(name) or "").strip()]
    if missing:
        raise ValidationError({name: "required" for name in missing})
    customer_data = {
        "name": row["name"],
        "email": row.get("email", ""),
        "phone": row.get("phone", ""),
        "locale": row.get("locale") or "en",
        "country": row.get("country", ""),
        "customer_since": row["customer_since"],
    }
    if row.get("marketing_consent", "").strip():
        customer_data["marketing_consent"] = row["marketing_consent"]
    customer_serializer = CustomerSerializer(data=customer_data, context=TEXT_VALUES)
    customer_serializer.is_valid(raise_exception=True)
    with transaction.atomic():
        customer, _, customer_changed = services.customer_upsert(
            external_id=row["customer_external_id"].strip(),
            data=customer_serializer.validated_data,
            actor=actor,
        )
        subscription_data = {"customer": customer.external_id, "plan": row["plan"].strip()}
        subscription_data |= {
            k: row[k] for k in OPTIONAL_SUBSCRIPTION if (row.get(k) or "").strip()
        }
        subscription_serializer = SubscriptionSerializer(
            data=subscription_data, context=TEXT_VALUES
        )
        subscription_serializer.is_valid(raise_exception=True)
        data = subscription_serializer.validated_data
        _, _, subscription_changed = services.subscription_upsert(
            external_id=row["subscription_external_id"].strip(),
            customer=data["customer"],
            plan=data["plan"],
            actor=actor,
            **{k: data.get(k) for k in OPTIONAL_SUBSCRIPTION},
        )
    return customer_changed or subscription_changed


def import_subscriptions_csv(
    lines: Iterable[str], *, progress: Callable[[int], None] | None = None
) -> ImportReport:
    report = ImportReport()
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        report.errors.append((1, f"missing columns: {', '.join(missing)}"))
        return report
    actor = Actor(channel=Channel.IMPORT, label="csv import")
    for index, row in enumerate(reader, start=1):
        line = reader.line_num
        if None in row:
            report.errors.append((line, "too many fields on this line"))
            continue
        try:
            changed = _import_row(row, actor)
        except ValidationError as exc:
            report.errors.append((line, _flatten(exc.detail)))
        except TackError as exc:
            report.errors.append((line, str(exc.message)))
        else:
            if changed:
                report.imported += 1
            else:
                report.unchanged += 1
        if progress:
            progress(index)
    return report
