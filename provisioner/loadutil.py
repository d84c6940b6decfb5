"""Turning pydantic validation errors into LoadErrors that point into the YAML file."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from provisioner.errors import KeyPath, LoadError, closest
from provisioner.yamlsrc import Located

__all__ = ["paused_gc", "validation_errors"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while loading: a load builds millions of objects and no cycles,
    and every full collection walks them all, which made 50,000 hosts take 11.7 s instead of 3.4 s
    (bench/inventory_scale.py). Collection resumes afterwards (and nests: only the outermost resumes)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation may hold, through Optional, unions and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += [m for m in _models_in(arg) if m not in found]
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and not found:  # Annotated[X, ...] keeps X in __origin__
        found = _models_in(origin)
    return found


def _tag_of(model: type[BaseModel]) -> str | None:
    """The discriminator value of a tagged union member: the Literal of its ``type`` field."""
    field = model.model_fields.get("type")
    values: tuple[Any, ...] = tuple(getattr(field.annotation, "__args__", ())) if field is not None else ()
    return str(values[0]) if len(values) == 1 else None


def _without_tags(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without the tag pydantic puts right after a field holding a tagged union (engine:
    "docker-desktop"), which is no YAML key. Only there: a key spelt like a tag elsewhere (the spec's
    ``containerd:`` beside ``engine.type: containerd``) is a key."""
    out: list[Any] = []
    current: Any = model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        out.append(part)
        is_model = isinstance(current, type) and issubclass(current, BaseModel)
        field = current.model_fields.get(str(part)) if is_model else None
        if field is None:
            current = None  # a list index or a mapping key: no field of a model below it is followed
            continue
        candidates = _models_in(field.annotation)
        tagged = {_tag_of(c): c for c in candidates} if len(candidates) > 1 else {}
        if parts and parts[0] in tagged:
            current = tagged[parts.pop(0)]
        else:
            current = candidates[0] if candidates else None
    return tuple(out)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the mapping at ``loc`` (for suggesting valid keys); ``loc`` may hold
    the tag of a tagged union member right after the field that holds the union."""
    current: Any = model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        candidates = _models_in(field.annotation)
        if len(candidates) > 1:
            tagged = {_tag_of(c): c for c in candidates}
            if parts and parts[0] in tagged:
                current = tagged[parts.pop(0)]
                continue
            current = candidates[0]
            continue
        current = candidates[0] if candidates else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


_ECHO_LIMIT = 120
"""Characters of a bad value an error repeats."""


class _Cut(str):
    """A value cut for an error message: shown as written, without quotes added around the cut."""

    def __repr__(self) -> str:
        return f"'{self}'"


_EXPECTED = {
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "string_type": "expected text",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "missing": "required key is missing",
}


def validation_errors(
    exc: ValidationError,
    doc: Located,
    base: KeyPath,
    model: type[BaseModel],
    *,
    templated: Callable[[KeyPath], bool] = lambda path: False,
) -> list[LoadError]:
    """One LoadError per pydantic error, placed at the YAML key it concerns."""
    errors: list[LoadError] = []
    seen: set[tuple[KeyPath, str]] = set()
    for item in exc.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if p != "[key]" and not (isinstance(p, str) and p.startswith("function-")))
        # Drop the tag pydantic adds for union members (e.g. "int", "str", "constrained-str").
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("constrained" in p or p in {"int", "str", "list"})))
        tagged_loc = loc
        # ... and the tag of a tagged union's member (engine: "docker-desktop"), which is no YAML key.
        loc = _without_tags(model, loc)
        path: KeyPath = base + tuple(loc)
        if any(isinstance(part, str) and "password" in part for part in path):
            item = {**item, "input": "<hidden>"}  # never echo a secret, even a malformed one
        elif isinstance(item.get("input"), str) and len(item["input"]) > _ECHO_LIMIT:
            # A 1 MB value must not become a 1 MB error line (review F12).
            text = item["input"]
            item = {**item, "input": _Cut(f"{text[:_ECHO_LIMIT]}... ({len(text):,} characters)")}
        kind = item["type"]
        hint = None
        if kind == "union_tag_invalid":
            tags = [t.strip(" '") for t in str(item["ctx"].get("expected_tags", "")).split(",")]
            message = f"expected type {' or '.join(tags)}, got {item['ctx'].get('tag')!r}"
            guess = closest(str(item["ctx"].get("tag")), tags)
            hint = f"did you mean '{guess}'?" if guess else None
            path = path + ("type",)
        elif kind == "extra_forbidden":
            owner = _model_at(model, tagged_loc[:-1])
            valid = list(owner.model_fields) if owner else []
            guess = closest(str(loc[-1]), valid) if loc else None
            message = "unknown key"
            if valid:
                message += f"; expected one of: {', '.join(valid)}"
            hint = f"did you mean '{guess}'?" if guess else None
        elif kind == "literal_error":
            message = f"expected {item['ctx'].get('expected', 'one of the allowed values')}, got {item['input']!r}"
            allowed = [s.strip(" '") for s in str(item["ctx"].get("expected", "")).replace(" or ", ",").split(",")]
            guess = closest(str(item["input"]), allowed)
            hint = f"did you mean '{guess}'?" if guess and guess != item["input"] else None
        elif kind == "string_pattern_mismatch":
            message = f"expected text matching {item['ctx']['pattern']}, got {item['input']!r}"
        elif kind == "value_error":
            message = str(item["msg"]).removeprefix("Value error, ")
        elif kind in _EXPECTED:
            message = f"{_EXPECTED[kind]}, got {item['input']!r}" if kind != "missing" else _EXPECTED[kind]
        else:
            message = str(item["msg"])
        if templated(path):
            message += (
                f" (after variable substitution: {item['input']!r})"
                if kind not in _EXPECTED
                else " (after variable substitution)"
            )
        if (path, message) in seen:
            continue
        seen.add((path, message))
        errors.append(doc.error(path, message, hint))
    return errors
