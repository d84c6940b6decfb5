"""Jinja2 rendering of PowerShell scripts, with one way for values to get in: the ``ps`` filter.

Every value from YAML reaches PowerShell as a literal made by :func:`ps_literal` (DESIGN 4.9).
The environment's ``finalize`` refuses any ``{{ }}`` output that is not a :class:`PsLiteral` (made
by ``ps``) or a :class:`PsCode` (a reviewed, template-owned fragment), so a template cannot
interpolate raw text by accident. Each block's template reads everything from ``$P``, the
literal of its params, and the block's begin marker carries the same params as JSON (DESIGN 4.1).
"""

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from provisioner.plan import FactsRequest, Plan
from provisioner.protocol.blocks import BlockParams, FactsParams, RebootParams
from provisioner.protocol.markers import END, marker

__all__ = [
    "PsCode",
    "PsLiteral",
    "RenderError",
    "Renderer",
    "SINGLE_QUOTES",
    "ps_literal",
]

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
"""PowerShell treats all five as single quotes, so each is doubled inside a literal (DESIGN 4.9)."""


_SURROGATE = re.compile("[\ud800-\udfff]")


class RenderError(Exception):
    """A template or value that cannot be rendered safely."""


class PsLiteral(str):
    """PowerShell source for one literal value, made only by :func:`ps_literal`."""

    __slots__ = ()


class PsCode(str):
    """A template-owned PowerShell fragment, reviewed as code; never built from YAML values."""

    __slots__ = ()


def _string(value: str) -> str:
    if "\x00" in value:
        raise RenderError("a NUL character cannot be passed to PowerShell")
    if _SURROGATE.search(value):
        # Scripts travel as UTF-8, which has no form for half a surrogate pair: the transport would fail per host.
        raise RenderError("a lone surrogate (half of a UTF-16 pair) cannot be sent to PowerShell as UTF-8")
    out = []
    for char in value:
        out.append(char + char if char in SINGLE_QUOTES else char)
    return "'" + "".join(out) + "'"


def _fold_key(key: str) -> str:
    """A hash-literal key as PowerShell compares it (ordinal, ignoring case: one-to-one upper-casing)."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in key)


def _number(value: int | float) -> PsLiteral:
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            # Windows PowerShell 5.1 reads a larger integer literal as a [double], losing digits.
            raise RenderError(f"{value} is outside the 64-bit integer range PowerShell reads exactly")
        return PsLiteral(str(value))
    if not math.isfinite(value):
        raise RenderError(f"{value!r} has no PowerShell literal")
    return PsLiteral(repr(value))


def _hash_literal(value: Mapping[Any, Any]) -> PsLiteral:
    items = []
    seen: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise RenderError(f"mapping keys must be text, got {key!r}")
        # Hash-literal keys are case-insensitive: PowerShell refuses @{'a' = 1; 'A' = 2} with a
        # ParseError ("Duplicate keys 'A' are not allowed in hash literals"), failing the whole script.
        folded = _fold_key(key)
        if folded in seen:
            raise RenderError(
                f"mapping keys {seen[folded]!r} and {key!r} differ only in case, "
                "which PowerShell refuses in a hash literal"
            )
        seen[folded] = key
        items.append(f"{_string(key)} = {ps_literal(item)}")
    return PsLiteral("[ordered]@{" + "; ".join(items) + "}")


def ps_literal(value: Any) -> PsLiteral:
    """The PowerShell 5.1 literal for a JSON-like value.

    Strings become single-quoted with every single-quote character doubled, so ``$``, backticks
    and ``$(...)`` stay text; booleans ``$true``/``$false``; None ``$null``; numbers in invariant
    form; sequences ``@(...)``; mappings ``[ordered]@{...}`` with string keys.
    """
    if isinstance(value, BlockParams):
        value = value.model_dump(mode="json")
    if value is None:
        return PsLiteral("$null")
    if isinstance(value, bool):
        return PsLiteral("$true" if value else "$false")
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return PsLiteral(_string(value))
    if isinstance(value, Mapping):
        return _hash_literal(value)
    if isinstance(value, (bytes, bytearray)):
        # A Sequence of ints to Python; it would silently become @(104, 105, ...) in PowerShell.
        raise RenderError(f"{type(value).__name__} values cannot be passed to PowerShell; decode them first")
    if isinstance(value, Sequence):
        items = [ps_literal(item) for item in value]
        if len(items) == 1:
            # @(@('a','b')) flattens to the inner array; the unary comma keeps one element one element.
            return PsLiteral("@(," + items[0] + ")")
        return PsLiteral("@(" + ", ".join(items) + ")")
    raise RenderError(f"{type(value).__name__} values cannot be passed to PowerShell")


def _finalize(value: Any) -> str:
    if isinstance(value, (PsLiteral, PsCode)):
        return value
    raise RenderError(f"template interpolated {value!r} without the ps filter; every value must pass through `| ps`")


class Renderer:
    """Renders FACTS, APPLY, VERIFY and REBOOT scripts from the templates."""

    def __init__(self, templates: Path | None = None) -> None:
        loader: jinja2.BaseLoader
        if templates is None:
            loader = jinja2.PackageLoader("provisioner", "templates")
        else:
            if not templates.is_dir():
                raise RenderError(f"--templates {templates}: not a directory")
            loader = jinja2.FileSystemLoader(str(templates))
        self.env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["ps"] = ps_literal
        # Scripts do not depend on the host's name, so what is the same for a whole fleet (the
        # prelude of each phase, the FACTS script of one spec) is rendered once. Concurrent first
        # renders race harmlessly: they store the same text.
        self._preludes: dict[str, str] = {}
        self._facts_scripts: dict[str, str] = {}
        self.nonce = f"provision-{secrets.token_hex(8)}"
        """What the verify containers echo: one per renderer, that is per run, so every host with the
        same plan gets the same VERIFY (or apply+verify) text, as it gets the same FACTS script. Unknown
        before the run, which is all the proof needs: the echo comes from a container run now (issue
        18: a nonce per host made every apply script unique, and the lab compiles a script once per text)."""
        if templates is not None:
            self._check_templates(templates)

    def _check_templates(self, templates: Path) -> None:
        """Compile every template a run may need now, before any host is touched, so a missing or
        broken one is one located error (``file:line: message``) instead of a failure per host."""
        builtin = jinja2.Environment(loader=jinja2.PackageLoader("provisioner", "templates"))
        for name in sorted(builtin.list_templates(extensions=["j2"])):
            try:
                self.env.get_template(name)
            except jinja2.TemplateNotFound:
                raise RenderError(f"--templates {templates}: {name} is missing") from None
            except jinja2.TemplateSyntaxError as exc:
                raise RenderError(f"{templates / name}:{exc.lineno}: {exc.message}") from None

    def _prelude(self, phase: str) -> str:
        prelude = self._preludes.get(phase)
        if prelude is None:
            prelude = self._preludes[phase] = self.env.get_template("prelude.ps1.j2").render(phase=phase)
        return prelude

    def block(
        self, block_id: str, block_type: str, action: str, params: BlockParams, requires: Sequence[str] = ()
    ) -> str:
        # The end marker is a comment line carrying the id as is: a line break (or any control or
        # line-separator character) in it would end the comment and turn the rest into code.
        bad = [c for c in block_id if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
        if bad or not block_id:
            raise RenderError(f"block id {block_id!r} must be one line of printable characters")
        body = self.env.get_template("block.ps1.j2").render(
            id=block_id, type=block_type, params=params, requires=list(requires)
        )
        return f"{marker(block_id, block_type, action, params, requires)}\n{body.rstrip()}\n{END}{block_id}\n"

    def script(self, host: str, phase: str, blocks: Sequence[str]) -> str:
        """Prelude + blocks, CRLF-free; the transports send it over stdin."""
        return self._prelude(phase) + "\n" + "\n".join(blocks)

    def facts(self, host: str, request: FactsRequest) -> str:
        params = _facts_params(request)
        key = params.model_dump_json()
        script = self._facts_scripts.get(key)
        if script is None:
            script = self._facts_scripts[key] = self.script(
                host, "facts", [self.block("facts", "facts", "get", params)]
            )
        return script

    def apply(self, plan: Plan, *, verify: bool = False, facts: FactsRequest | None = None) -> str:
        """The plan's changes; then, when asked, the verify runs (each requires every change, so they run
        only when all succeeded and none waits for a reboot) and the FACTS block, whose record the next
        plan is made from. One script instead of three (issue 18): the blocks are the same, so are their
        records."""
        blocks = [self.block(c.id, c.type, "set", c.params, c.requires) for c in plan.changes]
        if verify:
            blocks += self._verify_blocks(plan, self.nonce, tuple(c.id for c in plan.changes))
        if facts is not None:
            # Requires nothing: the state after the changes is wanted whatever they did.
            blocks.append(self.block("facts", "facts", "get", _facts_params(facts)))
        return self.script(plan.host, "apply", blocks)

    def verify(self, plan: Plan, nonce: str) -> str:
        """The VERIFY script: a block per run (resources/base.py VerifyRun), each after the ones before it."""
        return self.script(plan.host, "verify", self._verify_blocks(plan, nonce, ()))

    def _verify_blocks(self, plan: Plan, nonce: str, before: tuple[str, ...]) -> list[str]:
        if not plan.verify:
            raise RenderError(f"{plan.host}: nothing to verify")
        blocks = []
        for run in plan.verify:
            blocks.append(self.block(run.block_id, run.type, "test", run.params(nonce), before))
            before = (*before, run.block_id)
        return blocks

    def reboot(self, host: str, reason: str, warn_seconds: int = 0) -> str:
        comment = reboot_comment(warn_seconds, reason) if warn_seconds else ""
        params = RebootParams(reason=reason, warn_seconds=warn_seconds, comment=comment)
        return self.script(host, "reboot", [self.block("reboot", "reboot", "restart", params)])


def _facts_params(request: FactsRequest) -> FactsParams:
    return FactsParams(
        features=request.features,
        services=request.services,
        files=request.files,
        engine_dir=request.engine_dir,
        extra=request.extra,
    )


def reboot_comment(warn_seconds: int, reason: str) -> str:
    """What the signed-in users read in the restart warning (shutdown.exe /c, at most 512 characters): why,
    for the reboot's ``reason`` (``pending``: a restart another installation left waiting, windows-audit.md F2;
    else one that provision's own changes need)."""
    why = (
        "to complete an installation that is waiting for a restart (Windows Update or another installer), "
        "before provision goes on"
        if reason == "pending"
        else "to finish installing Windows features and container software"
    )
    return f"provision restarts this computer in {warn_seconds} seconds {why}. Save your work now."
