"""Turning pydantic validation errors into LoadErrors that point into the YAML file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from provisioner.errors import KeyPath, LoadError, closest
from provisioner.yamlsrc import Located

__all__ = ["validation_errors"]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the mapping at ``loc`` (for suggesting valid keys)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


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


def validation_errors(exc: ValidationError, doc: Located, base: KeyPath, model: type[BaseModel],
                      *, templated: Callable[[KeyPath], bool] = lambda path: False) -> list[LoadError]:
    """One LoadError per pydantic error, placed at the YAML key it concerns."""
    errors: list[LoadError] = []
    seen: set[tuple[KeyPath, str]] = set()
    for item in exc.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if p != "[key]" and not (isinstance(p, str) and p.startswith("function-")))
        # Drop the tag pydantic adds for union members (e.g. "int", "str", "constrained-str").
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("constrained" in p or p in {"int", "str", "list"})))
        path: KeyPath = base + tuple(loc)
        kind = item["type"]
        hint = None
        if kind == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
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
            message += f" (after variable substitution: {item['input']!r})" if kind not in _EXPECTED \
                else " (after variable substitution)"
        if (path, message) in seen:
            continue
        seen.add((path, message))
        errors.append(doc.error(path, message, hint))
    return errors
