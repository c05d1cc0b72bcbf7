"""Turn pydantic errors into one line each: the dotted path, what is wrong, what is allowed."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from heliohub.config.model import PROBLEM_SEPARATOR, HubConfig

_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}
_TYPES = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


@functools.cache
def _schema() -> dict[str, Any]:
    return HubConfig.model_json_schema()


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    defs = _schema().get("$defs", {})
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        elif "anyOf" in node:
            # Optional[X] is anyOf [X, null]: the schema of X is what describes the value.
            real = [n for n in node["anyOf"] if n.get("type") != "null"]
            if len(real) != 1:
                return node
            node = real[0]
        else:
            return node


def _walk(loc: tuple[str | int, ...]) -> dict[str, Any] | None:
    """The schema node at loc, following $refs, lists and discriminated unions."""
    node = _deref(_schema())
    for part in loc:
        if isinstance(part, int):
            node = _deref(node.get("items", {}))
        elif "properties" in node and part in node["properties"]:
            node = _deref(node["properties"][part])
        elif "discriminator" in node:
            target = node["discriminator"]["mapping"].get(part)
            if target is None:
                return None
            node = _deref({"$ref": target})
        elif "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
            node = _deref(node["additionalProperties"])
        else:
            return None
    return node


def _tags() -> set[str]:
    tags: set[str] = set()
    for d in _schema().get("$defs", {}).values():
        tag = d.get("properties", {}).get("type", {}).get("const")
        if tag:
            tags.add(tag)
    return tags


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _public_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop the tags pydantic adds for discriminated unions (auth.oidc.issuer -> auth.issuer)."""
    tags = _tags()
    return tuple(p for i, p in enumerate(loc) if not (i and p in tags and loc[i - 1] == "auth"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _line(err: ErrorDetails) -> list[str]:
    loc = tuple(err["loc"])
    path = _dotted(_public_loc(loc))
    kind = err["type"]
    ctx = err.get("ctx", {})
    got = err.get("input")
    if kind == "extra_forbidden":
        parent = _walk(loc[:-1]) or {}
        allowed = ", ".join(parent.get("properties", {})) or "none"
        return [f"{path}: unknown key; allowed keys here: {allowed}"]
    if kind == "missing":
        return [f"{path}: required but missing"]
    if kind == "literal_error":
        return [f"{path}: {_short(got)} is not allowed; allowed: {ctx.get('expected')}"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = ctx.get("expected_tags", "")
        disc = ctx.get("discriminator", "type").strip("'")
        what = (
            "is missing"
            if kind == "union_tag_not_found"
            else f"{_short(ctx.get('tag'))} is unknown"
        )
        return [f"{path}.{disc}: {what}; allowed: {expected}"]
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return [f"{path}: must be {sign} {bound}, got {_short(got)}"]
    if kind == "string_pattern_mismatch":
        node = _walk(loc) or {}
        rule = node.get("description") or f"the pattern {ctx.get('pattern')}"
        return [f"{path}: {_short(got)} is not valid; allowed: {rule}"]
    if kind in ("too_short", "too_long"):
        bound = "at least" if kind == "too_short" else "at most"
        n = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return [f"{path}: needs {bound} {n} item(s) or character(s), got {_short(got)}"]
    if kind in _TYPES:
        return [f"{path}: expected {_TYPES[kind]}, got {_short(got)}"]
    if kind == "url_parsing" or kind.startswith("url_"):
        return [f"{path}: {_short(got)} is not a URL; allowed: an http(s) URL"]
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        if loc:
            return [f"{path}: {msg}"]
        # Root-level rules name their own fields ("domain: required ...").
        return msg.split(PROBLEM_SEPARATOR)
    return [f"{path}: {err['msg']}, got {_short(got)}"]


def describe(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        for line in _line(err):
            if line not in lines:
                lines.append(line)
    return lines
