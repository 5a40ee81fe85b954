"""Seeds a private Tack database from a process of its own (the test process's ORM is bound
to the test database): ``python -m tests.faults.seed_private N`` with ``DATABASE_URL`` set
creates N subscriptions and prints, as JSON, the exit reason to pick and each subscription's
id, external id and signed cancel token."""

import json
import sys

import django


def main(count: int) -> None:
    django.setup()
    from cancellations.models import ExitReason
    from core.links import make_token
    from tests.factories import make_plan, make_subscription

    plan = make_plan(code="standard", price="199.00", rank=2)
    subscriptions = [make_subscription(plan=plan, email=f"pg{n}@example.com") for n in range(count)]
    print(
        json.dumps(
            {
                "reason": ExitReason.objects.get(code="moving").pk,  # its offer is a pause
                "subscriptions": [
                    {
                        "id": s.pk,
                        "external_id": s.external_id,
                        "token": make_token(purpose="cancel", payload={"s": s.pk}),
                    }
                    for s in subscriptions
                ],
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
