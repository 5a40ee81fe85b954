"""The small findings of the security review: CSV formula neutralisation, control
characters in names, campaign texts in a sandbox."""

import pytest
from django.core.management import CommandError, call_command
from django.template import Context

from retention.views import _cell
from subscriptions.models import Customer
from tests.factories import make_customer, make_plan
from winback.messages import MessageTemplateError, compile_message


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1", "\uff1dHYPERLINK()", "\uff20x"],
)
def test_csv_cells_that_a_spreadsheet_could_read_as_formulas_are_quoted(value):
    assert _cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Astrid", "a=b", 42, -3, None])
def test_other_csv_cells_are_left_alone(value):
    assert _cell(value) == value


BODY = {"email": "m@example.com", "locale": "da", "customer_since": "2018-05-02"}
CONTROL_NAMES = ["Mette\x1b[31m Nielsen", "Mette\nNielsen", "Mette\x00", "Mette \u202eneslieN"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", CONTROL_NAMES)
def test_control_characters_in_a_customer_name_are_refused_by_the_api(api, name):
    response = api.put("/api/v1/customers/crm-1/", {**BODY, "name": name}, format="json")

    assert response.status_code == 400
    assert "name" in str(response.json())
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_control_characters_are_refused_by_the_import_and_the_admin(
    tmp_path, capsys, client, agent
):
    make_plan(code="standard")
    path = tmp_path / "subs.csv"
    path.write_text(
        "customer_external_id,name,customer_since,subscription_external_id,plan\n"
        'c1,"Anna\x07Berg",2019-03-01,s1,standard\n',
        encoding="utf-8",
    )
    with pytest.raises(CommandError):
        call_command("import_subscriptions", str(path))
    assert "line 2: name: Control characters are not allowed." in capsys.readouterr().err

    customer = make_customer(name="Anna Berg")
    client.force_login(agent)
    page = client.get(f"/admin/subscriptions/customer/{customer.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data["name"] = "Anna\x1bBerg"
    response = client.post(f"/admin/subscriptions/customer/{customer.pk}/change/", data)
    assert response.status_code == 200  # the form again, with the error
    customer.refresh_from_db()
    assert customer.name == "Anna Berg"


@pytest.mark.parametrize(
    "text",
    [
        '{% include "emails/winback.html" %}',
        "{% load static %}",
        '{% extends "base.html" %}',
        '{% ssi "/etc/passwd" %}',
        "{% debug %}",
        "{% if name %}x{% endif %}",
        "{{ settings.SECRET_KEY }}",
        "{{ name.upper }}",
        "{{ name|safe }}",
        "{{ name|default:secret }}",
    ],
)
def test_campaign_texts_may_use_nothing_but_the_documented_variables_and_filters(text):
    with pytest.raises(MessageTemplateError):
        compile_message(text)


def test_campaign_texts_render_the_documented_variables_and_filters():
    template = compile_message('Hej {{ first_name|upper }}, {{ reason|default:"?" }}')

    assert template.render(Context({"first_name": "Ann", "reason": ""})) == "Hej ANN, ?"
