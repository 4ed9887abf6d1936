"""A page's JSON-LD (schema.org): the objects it declares, and their values as plain text."""

from __future__ import annotations

import json
from html import unescape
from typing import Any


def article_items(tree: Any) -> list[dict[str, Any]]:
    """The JSON-LD objects of the page that describe an article."""
    return [
        item
        for item in items(tree)
        if any(
            isinstance(k, str) and k.endswith(("Article", "Posting", "Report"))
            for k in as_list(item.get("@type"))
        )
    ]


def items(tree: Any) -> list[dict[str, Any]]:
    """The page's top-level JSON-LD objects, each @graph flattened."""
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            data = json.loads(script)
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)
                found.append(item)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def text(value: Any) -> str:
    """A JSON-LD string value, HTML entities decoded ("&quot;", "&#8217;"); "" if not a string."""
    return " ".join(unescape(value).split()) if isinstance(value, str) else ""
