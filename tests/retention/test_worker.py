"""The rollup refresh asked for by a committed change runs on a real worker against Redis."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from cancellations import services
from core.changes import LAST_REFRESH_SECONDS_KEY, REFRESH_REQUESTED_KEY
from core.models import ChangeMark
from retention.models import CaseDay, RollupState
from subscriptions.actors import Actor
from tests.cancellations.conftest import reason
from tests.helpers import wait_until

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.rollups_follow_changes,
]


def test_a_decided_case_reaches_the_rollups_through_the_worker(
    celery_worker, subscription, settings
):
    settings.TACK_ROLLUP_REFRESH_DELAY_SECONDS = 0
    cache.delete_many([REFRESH_REQUESTED_KEY, LAST_REFRESH_SECONDS_KEY])
    customer = Actor.customer()

    case = services.cancellation_start(subscription=subscription, actor=customer)
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=customer)
    services.cancellation_decline(case=case, actor=customer)

    wait_until(lambda: CaseDay.objects.filter(day=timezone.localdate(), cancelled=1).exists())
    wait_until(lambda: not ChangeMark.objects.exists())
    assert RollupState.objects.get().refreshed_at is not None
