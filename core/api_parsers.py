"""The API's JSON parser: DRF's, with a limit on how deeply a body may nest.

Python's ``json`` recurses once per level, so a body nested about a thousand levels deep
raised ``RecursionError`` (a 500) instead of the 400 any other malformed body gets. No body
of ours nests more than a few levels; anything deeper than ``MAX_DEPTH`` is refused.
"""

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 20


def nesting_depth(value) -> int:
    """How many arrays and objects deep ``value`` goes, counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            depth += 1
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((child, depth) for child in item)
    return deepest


class DepthLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(
            _("JSON parse error - the body is nested more than %(depth)d levels deep.")
            % {"depth": MAX_DEPTH}
        )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if nesting_depth(data) > MAX_DEPTH:
            raise too_deep
        return data
