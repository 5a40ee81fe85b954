"""Serializer fields and a mixin that hold the API to its OpenAPI schema.

DRF is lenient where the schema is strict: a ``BooleanField`` takes ``0`` and ``"yes"``, a
``CharField`` takes the number ``0``, an ``IntegerField`` takes ``"2"``. A client generated
from the schema never sends those, so accepting them only hides a client's bug (and
schemathesis flags it). ``StrictJSONTypes`` refuses a value whose JSON type is not the one
the schema names, before the fields convert it.
"""

import datetime

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_JSON_TYPES = [
    # Most specific first: a BooleanField is no IntegerField, a ChoiceField is no CharField.
    (serializers.BooleanField, (bool,), _("Must be true or false.")),
    (serializers.IntegerField, (int,), _("Must be a whole number.")),
    (serializers.FloatField, (int, float), _("Must be a number.")),
    (serializers.DecimalField, (str,), _('Must be a decimal number in a string, e.g. "179.00".')),
    (serializers.ChoiceField, (str,), _("Must be a string.")),
    (serializers.CharField, (str,), _("Must be a string.")),
    (serializers.DateField, (str,), _("Must be a date as a string, YYYY-MM-DD.")),
    (serializers.DateTimeField, (str,), _("Must be a date and time as an ISO 8601 string.")),
    (serializers.RelatedField, (str,), _("Must be a string.")),
]


def json_type_error(field: serializers.Field, value) -> str | None:
    if value is None:
        return None  # the field's own allow_null decides
    for field_class, types, message in _JSON_TYPES:
        if isinstance(field, field_class):
            ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
            return None if ok else str(message)
    return None


class StrictJSONTypes:
    """Mix into a serializer: every writable field's value must have the JSON type the
    schema gives it. Text sources (a CSV import) pass ``context={"text_values": True}``."""

    def to_internal_value(self, data):
        if isinstance(data, dict) and not self.context.get("text_values"):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                message = json_type_error(field, data[name])
                if message:
                    errors[name] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as ``""`` when there is none: answered as null, so every value the
    API returns is in the schema's enum or null (null sent in means "not given")."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(value) if value else None


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,8}(?:\.\d{1,2})?$"})
class AmountField(serializers.DecimalField):
    """A non-negative amount of money as a decimal string (at most 8 digits and 2
    decimals); the schema's pattern says exactly what is accepted."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=10, decimal_places=2, min_value=0, **kwargs)


def year_range_pattern(first: int, last: int) -> str:
    r"""A regular expression for the ISO dates of the years 1900 (``first``) to ``last``
    (2000 to 2099): ``^(19\d\d|20[0-1]\d|202[0-7])-\d\d-\d\d$`` up to 2027."""
    if first != 1900 or not 2000 <= last <= 2099:
        raise ValueError("only from 1900 to a year of this century")
    tens, units = divmod(last - 2000, 10)
    years = [r"19\d\d"] + ([rf"20[0-{tens - 1}]\d"] if tens else []) + [rf"20{tens}[0-{units}]"]
    return rf"^({'|'.join(years)})-\d\d-\d\d$"


class PlausibleDateField(serializers.DateField):
    """A date in a plausible range of years: from ``first_year`` to next year (a date like
    0330-10-20 is a typing error, not a customer since the Roman empire). The schema states
    the range as a pattern, computed when the schema is rendered."""

    first_year = 1900

    def to_internal_value(self, value):
        date = super().to_internal_value(value)
        last_year = datetime.date.today().year + 1
        if not self.first_year <= date.year <= last_year:
            raise serializers.ValidationError(
                _("Use a date between %(first)d and %(last)d.")
                % {"first": self.first_year, "last": last_year}
            )
        return date


class PlausibleDateTimeField(serializers.DateTimeField):
    """A date and time from 1900 to 2099. The year 247 was accepted and answered with the
    local time zone's offset of that age (``+01:12:12``), which no client can parse."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not 1900 <= moment.year <= 2099:
            raise serializers.ValidationError(_("Use a time between 1900 and 2099."))
        return moment


class PlausibleDateTimeFieldSchema(OpenApiSerializerFieldExtension):
    target_class = PlausibleDateTimeField

    def map_serializer_field(self, auto_schema, direction):
        schema = {"type": "string", "format": "date-time"}
        if direction == "request":
            schema["pattern"] = r"^(19|20)\d\d-"
        return schema


class PlausibleDateFieldSchema(OpenApiSerializerFieldExtension):
    target_class = PlausibleDateField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        first_year = self.target.first_year
        last_year = datetime.date.today().year + 1
        schema = {"type": "string", "format": "date"}
        if direction == "request":
            schema["pattern"] = year_range_pattern(first_year, last_year)
        return schema


@extend_schema_field({"type": "string", "pattern": r"^[A-Za-z]{2}$"})
class CountryField(serializers.RegexField):
    """An ISO 3166-1 alpha-2 code (any case, stored upper case), or blank."""

    def __init__(self, **kwargs):
        super().__init__(
            r"^([A-Za-z]{2})?$",
            allow_blank=True,
            error_messages={"invalid": _("Use a two-letter ISO 3166 country code, e.g. SE.")},
            **kwargs,
        )

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()
