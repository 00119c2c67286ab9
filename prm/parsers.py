"""The API's JSON parser: bounded in size and depth, and only text that can be stored.

DRF's own parser reads the whole stream and hands it to ``json.load``, so a body nested a
few thousand levels deep raises ``RecursionError`` (a 500), and a ``"\\ud800"`` escape
yields a lone surrogate that no UTF-8 column, log line or JSON answer can hold (a 500 as
soon as an error message repeats it). Here a body is refused with a 400 in the API's error
shape when it is

- larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django refuses to read it; the API answers
  413, see ``prm.api_errors``);
- nested deeper than ``MAX_JSON_DEPTH`` arrays and objects, found by counting brackets
  outside strings before anything is decoded;
- holding a string (a key or a value) that is not valid Unicode text.
"""

import codecs
import json
import re
from typing import Any

from django.utils.translation import gettext
from rest_framework import exceptions, parsers
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant

# No request of the API nests deeper than a few levels; 64 leaves room for any client.
MAX_JSON_DEPTH = 64

# A JSON string literal (possessive, so a stray quote costs one linear scan), and the
# brackets that remain once strings are taken out.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
# A \u escape in the surrogate range: the only way JSON text decodes to a surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (brackets inside strings do
    not count). Stops at the first level past the limit."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def has_unencodable_text(data) -> bool:
    """Whether any string in the decoded document (keys included) cannot be written as
    UTF-8, i.e. holds a lone surrogate. Walks with a stack, not recursion."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser with the limits above (``DEFAULT_PARSER_CLASSES``)."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        encoding = parsers.get_encoding(parser_context)
        # DRF hands a JSON parser the request's body, which Django reads only up to
        # DATA_UPLOAD_MAX_MEMORY_SIZE (a larger one is a 413: prm.api_errors).
        raw = stream.read()
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(
                gettext("The request body is not valid %(encoding)s text.") % {"encoding": encoding}
            ) from exc
        if json_depth_exceeds(text, self.max_depth):
            raise exceptions.ParseError(
                gettext("The JSON body is nested more than %(depth)d levels deep.")
                % {"depth": self.max_depth}
            )
        try:
            parse_constant = strict_constant if api_settings.STRICT_JSON else None
            data = json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(
                gettext("The request body is not valid JSON: %(error)s") % {"error": exc}
            ) from exc
        if _SURROGATE_ESCAPE.search(text) and has_unencodable_text(data):
            raise exceptions.ParseError(
                gettext(
                    "The JSON body holds text that is not valid Unicode (a lone surrogate "
                    "such as U+D800)."
                )
            )
        return data
