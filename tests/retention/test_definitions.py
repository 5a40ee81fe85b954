"""Each figure is defined once (retention.definitions); the page and the API show that text."""

import pytest

from retention import definitions

pytestmark = pytest.mark.django_db


def test_every_definition_names_its_formula_and_population():
    keys = [figure.key for figure in definitions.FIGURES]

    assert len(keys) == len(set(keys))
    for figure in definitions.FIGURES:
        assert str(figure.name) and str(figure.formula) and str(figure.population)


def test_the_api_schema_carries_the_definitions(client, manager):
    client.force_login(manager)

    schema = client.get("/api/schema/").content.decode()

    assert "Counted over: first contacts made in the period" in schema


def test_the_readme_names_every_figure():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## The retention dashboard") : readme.index("## API")]
    words = " ".join(section.replace("*", "").split()).lower()

    for figure in definitions.FIGURES:
        assert str(figure.name).lower() in words, figure.key
