"""The API answers what its OpenAPI schema says (issue 22, item 5): each test here was a
contract break found by an outside client or by schemathesis against a live server."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("depth", [1000, 21])
def test_a_deeply_nested_body_is_refused_with_a_400(api, depth):
    body = "[" * depth + "]" * depth
    response = api.post("/api/v1/cancellations/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - the body is nested more than 20 levels deep.",
        "code": "parse_error",
    }


def test_a_body_nested_as_deep_as_allowed_reaches_validation(api):
    body = '{"subscription": ' + "[" * 19 + "]" * 19 + "}"
    response = api.post("/api/v1/cancellations/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
