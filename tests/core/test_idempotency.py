import pytest

from core import services
from core.enums import ApiScope
from core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    api_key, _ = services.api_key_create(name="app", scopes=ApiScope.values)
    return api_key


def test_idempotent_call_runs_once_and_replays(key):
    calls = []

    def call():
        calls.append(1)
        return 201, {"id": len(calls)}

    fingerprint = services.request_fingerprint(method="POST", path="/x", body={"a": 1})
    first = services.idempotent_call(api_key=key, key="k", fingerprint=fingerprint, call=call)
    second = services.idempotent_call(api_key=key, key="k", fingerprint=fingerprint, call=call)

    assert (first.status, first.body, first.replayed) == (201, {"id": 1}, False)
    assert (second.status, second.body, second.replayed) == (201, {"id": 1}, True)
    assert len(calls) == 1


def test_idempotent_call_same_key_different_body_conflicts(key):
    services.idempotent_call(api_key=key, key="k", fingerprint="a" * 64, call=lambda: (200, {}))
    with pytest.raises(services.IdempotencyConflict):
        services.idempotent_call(api_key=key, key="k", fingerprint="b" * 64, call=lambda: (200, {}))


def test_idempotent_call_that_raises_leaves_no_record(key):
    def boom():
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        services.idempotent_call(api_key=key, key="k", fingerprint="a" * 64, call=boom)
    assert not IdempotencyRecord.objects.exists()
