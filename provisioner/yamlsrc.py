"""YAML loading that remembers where every value came from.

PyYAML's composer keeps a start mark on every node; we build plain Python values from the
node tree and keep a map from key path to (line, column), so that any later error about
``spec.daemon.iptables`` can point at the exact place in the file.

Ansible's two scalar tags are understood, because Ansible inventories and vars files use them:
``!vault`` (an ansible-vault ciphertext, decrypted later when a vault password is given) and
``!unsafe`` (a literal that is never templated). Any other tag is an error naming the place.
YAML merge keys (``<<``) work as in Ansible. Aliases are expanded with a budget: a "billion laughs" document or a recursive alias is one
clear error, not minutes of CPU or a RecursionError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioner.errors import InputError, KeyPath, LoadError

__all__ = ["ALIAS_BUDGET", "MAX_DEPTH", "Located", "Unsafe", "VaultText", "load_yaml", "load_yaml_text"]

ALIAS_BUDGET = 100_000
"""Values an alias may re-create beyond the document's own, plus 20 per byte of text: sharing an
anchor across 50,000 hosts fits, a 700-byte "billion laughs" (10^10 values) stops within a second."""
MAX_DEPTH = 200
"""Nesting depth of mappings and lists; real inventories and playbooks stay below 20."""


class Unsafe(str):
    """An ``!unsafe`` value: text that is used as written, never rendered as a template."""

    __slots__ = ()


@dataclass(frozen=True)
class VaultText:
    """A ``!vault`` value: the ansible-vault envelope, decrypted only where the value is used."""

    envelope: str = field(repr=False)

    def __str__(self) -> str:
        return "<vault-encrypted>"


@dataclass
class Located:
    """A parsed YAML document and the position of every key path in it (1-based)."""

    file: Path
    data: Any
    marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    typed_keys: set[KeyPath] = field(default_factory=set)
    """Paths whose last key was written as a number or boolean, not as text (``1234:``)."""

    def error(self, path: KeyPath, message: str, hint: str | None = None) -> LoadError:
        """A LoadError placed at ``path``, or at its nearest located ancestor."""
        probe = path
        while probe and probe not in self.marks:
            probe = probe[:-1]
        line, column = self.marks.get(probe, (None, None))
        return LoadError(self.file, line, column, path, message, hint)


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
# The safe scalar tags (str, int, float, bool, null, timestamp, binary...): never python/* tags.
_KNOWN_SCALARS = frozenset(tag for tag in yaml.SafeLoader.yaml_constructors if tag and tag not in (_SEQ, _MAP))
_MERGE = "tag:yaml.org,2002:merge"


class _Builder:
    """Builds values from composed nodes, counting them (aliases re-walk shared nodes)."""

    def __init__(self, doc: Located, text_size: int) -> None:
        self.doc = doc
        self.budget = ALIAS_BUDGET + 20 * text_size
        self.seen: set[int] = set()
        self.active: set[int] = set()

    def fail(self, node: yaml.Node, path: KeyPath, message: str) -> InputError:
        return InputError(
            [LoadError(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1, path, message)]
        )

    def build(self, node: yaml.Node, path: KeyPath, depth: int) -> Any:
        if id(node) in self.seen:  # an alias re-creates this node's value
            self.budget -= 1
            if self.budget < 0:
                raise self.fail(node, path, "YAML aliases expand to too many values (an alias bomb?)")
        else:
            self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise self.fail(node, path, f"nested more than {MAX_DEPTH} levels deep")
        marks = self.doc.marks
        marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            raise self.fail(node, path, "a YAML alias refers to a value that contains it (recursive alias)")
        if node.tag not in (_SEQ, _MAP):
            raise self.fail(node, path, f"unsupported YAML tag {_cut(node.tag)} on a collection")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (index,), depth + 1) for index, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: KeyPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                continue
            # YAML merge keys as ansible-core 2.19 reads them: the merged mappings in the order listed,
            # a later one winning (PyYAML lets the first win; the differential test holds Ansible's
            # order), then the keys written here win (built last, so their positions are kept).
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise self.fail(key_node, path, "a merge key (<<) needs a mapping or a list of mappings")
                result.update(self.build(source, path, depth + 1))
        written: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.startswith("!"):
                raise self.fail(key_node, path, "expected a plain text key")
            key = str(key_node.value)
            child = path + (key,)
            if key in written:
                raise self.fail(key_node, child, "key appears twice in the same mapping")
            written.add(key)
            if key_node.tag != _STR:
                self.doc.typed_keys.add(child)
            self.doc.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        if node.tag == "!unsafe":
            return Unsafe(node.value)
        if node.tag == "!vault":
            return VaultText(str(node.value))
        if node.tag not in _KNOWN_SCALARS:
            raise self.fail(node, path, f"unsupported YAML tag {_cut(node.tag)}")
        try:
            return _SCALARS.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise self.fail(node, path, f"bad {node.tag.rsplit(':', 1)[-1]} value: {_cut(str(exc), 120)}") from None


def _cut(text: str, limit: int = 80) -> str:
    """Input echoed in an error is cut: a 1 MB value must not become a 1 MB error line."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


_SCALARS = yaml.SafeLoader("")
# libyaml composes ten times faster (0.04 s against 0.35 s for a 1,000-host inventory) with the
# same marks; PyYAML without libyaml still works.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(file: Path) -> Located:
    """Parse ``file``; malformed YAML or a missing file raises InputError naming the place."""
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise InputError([LoadError(file, None, None, (), "file not found")]) from None
    except IsADirectoryError:
        raise InputError([LoadError(file, None, None, (), "is a directory, expected a file")]) from None
    except OSError as exc:
        raise InputError([LoadError(file, None, None, (), f"cannot read: {exc.strerror}")]) from None
    return load_yaml_text(file, decode(file, raw))


def decode(file: Path, raw: bytes) -> str:
    """UTF-8 text (a BOM is dropped), or an InputError naming the line of the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([LoadError(file, line, None, (), "not UTF-8 text (save the file as UTF-8)")]) from None


def load_yaml_text(file: Path, text: str) -> Located:
    """Parse ``text`` read from ``file`` (errors name ``file``)."""
    doc = Located(file=file, data=None)
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = exc.problem or "malformed YAML"
        context = f" {exc.context}" if exc.context else ""
        raise InputError(
            [
                LoadError(
                    file,
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                    (),
                    f"malformed YAML: {problem}{context}",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:  # a ReaderError (NUL or another control character) has no problem_mark
        line = text[: getattr(exc, "position", 0)].count("\n") + 1
        raise InputError(
            [LoadError(file, line, None, (), f"malformed YAML: {_cut(str(exc).splitlines()[0])}")]
        ) from None
    except RecursionError:
        raise InputError([LoadError(file, None, None, (), "malformed YAML: nested too deeply")]) from None
    if node is not None:
        doc.data = _Builder(doc, len(text)).build(node, (), 0)
    return doc
