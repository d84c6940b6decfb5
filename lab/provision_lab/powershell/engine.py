"""The Windows PowerShell 5.1 interpreter: a tree-sitter-pwsh parse compiled once into Python closures.

:func:`compile_script` turns a script's text into a :class:`CompiledBlock` (cached by text, since a fleet
sends the same script to every host); :class:`Session` runs compiled blocks for one powershell.exe process,
with its scopes, streams, commands and types. Semantics follow the about_* topics of Windows PowerShell 5.1
(MicrosoftDocs/PowerShell-Docs reference/5.1/Microsoft.PowerShell.Core/About): about_Scopes,
about_Script_Blocks, about_Functions_Advanced_Parameters, about_Splatting, about_Pipelines,
about_Automatic_Variables, about_Preference_Variables, about_Try_Catch_Finally, about_Throw, about_Redirection,
about_Parsing; each construct's conformance test quotes its page.

What is not implemented raises an error naming the construct ("The lab's PowerShell does not implement
class definitions yet."), never silently does nothing. Not implemented yet: classes and enums, workflows and
``parallel``/``sequence``, ``data`` sections, ``using``/``#requires``, ``--%``, redirection to a file
(``>``/``2>`` to anything but ``$null``), ``switch -File``, the ``.ForEach(name)``/``.Where(block, mode)`` overloads,
``dynamicparam``, ``$MyInvocation``/``$PSScriptRoot``/``$Host``, format.ps1xml views (objects show by their
properties), ``Get-Date -UFormat``, ``Add-Type`` (refused), remoting (``Invoke-Command -ComputerName``) and COM.
Known approximations: ``-Command -`` reads the whole of stdin as one script (5.1 reads it line by line);
strict mode for member access is the innermost scope's at the access; recursion deeper than the Python stack
allows is PowerShell's "call depth overflow" error, earlier than 5.1's limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import tree_sitter
import tree_sitter_pwsh

from . import convert as cv
from .api import (
    ErrorRecord,
    NetException,
    NetObject,
    TerminatingError,
)
from .errors import BreakSignal, ContinueSignal, ExitSignal, ReturnSignal, ScriptError, runtime_error
from .syntax import ParseProblem, Source, parse_exception_message, single_quoted_value, string_problems, tree_problems
from .values import Hashtable, Long, OrderedDictionary, PSCustomObject, ScriptBlock

__all__ = [
    "CompiledBlock",
    "Frame",
    "ParseFailure",
    "Scope",
    "compile_script",
]

if TYPE_CHECKING:
    from .session import Session

_LANGUAGE = tree_sitter.Language(tree_sitter_pwsh.language())

Expr = Callable[["Frame"], Any]
Stmt = Callable[["Frame", list[Any]], None]


class ParseFailure(Exception):
    """A script that does not parse: PowerShell's ParseException, with each error positioned."""

    def __init__(self, source: Source, problems: Sequence[ParseProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        self.text = parse_exception_message(source, problems)
        super().__init__(self.text)


# ------------------------------------------------------------------------------------------------
# Scopes and frames


_MISSING: Any = object()


class Scope:
    """One PowerShell scope (about_Scopes): variables, functions, and the StrictMode set in it."""

    __slots__ = ("functions", "parent", "strict", "vars")

    def __init__(self, parent: Scope | None) -> None:
        self.parent = parent
        self.vars: dict[str, Any] = {}
        self.functions: dict[str, FunctionInfo] = {}
        self.strict: int = parent.strict if parent else 0

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            value = scope.vars.get(name, _MISSING)
            if value is not _MISSING:
                return value
            scope = scope.parent
        return _MISSING

    def find_function(self, name: str) -> FunctionInfo | None:
        scope: Scope | None = self
        while scope is not None:
            info = scope.functions.get(name)
            if info is not None:
                return info
            scope = scope.parent
        return None


class Frame:
    """What compiled code runs against: the session and the current scope."""

    __slots__ = ("s", "scope")

    def __init__(self, session: Session, scope: Scope) -> None:
        self.s = session
        self.scope = scope


@dataclass
class Extent:
    """Where a construct is in its script, for ``At line:N char:M`` position messages."""

    source: Source
    start: int
    end: int

    def problem(self) -> ParseProblem:
        return self.source.problem(self.start, self.end, "", "")

    def text(self) -> str:
        return self.source.data[self.start : self.end].decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------------------
# Compiled forms


@dataclass
class ParamDecl:
    """One parameter of a ``param()`` block or function declaration."""

    name: str
    type_name: str | None
    default: Expr | None
    mandatory: bool = False
    switch: bool = False
    position: int | None = None
    from_pipeline: bool = False
    from_pipeline_by_name: bool = False
    aliases: tuple[str, ...] = ()


@dataclass
class CompiledBlock:
    """A script block's compiled code: parameters and its begin/process/end statement lists."""

    text: str
    params: list[ParamDecl] | None
    begin: Stmt | None
    process: Stmt | None
    end: Stmt | None
    advanced: bool = False
    """``[CmdletBinding()]`` or a ``[Parameter()]`` attribute: common parameters, strict binding."""


@dataclass
class FunctionInfo:
    """A function or filter defined by a script."""

    name: str
    block: CompiledBlock
    filter: bool = False


@dataclass
class ArgItem:
    """One element of a command's arguments, evaluated: a parameter name, a value, or a splat."""

    kind: str  # "param" | "value" | "splat"
    name: str = ""
    text: str = ""
    value: Any = None
    colon: bool = False
    has_value: bool = False


@dataclass
class Redirection:
    stream: str  # "2", "*", "1", "3"...
    merge: bool  # 2>&1
    target: Expr | None = None
    append: bool = False


@dataclass
class CommandNode:
    """A compiled command of a pipeline."""

    name: str | None
    name_expr: Expr | None
    invocation: str | None  # "&", "." or None
    elements: list[Callable[[Frame], list[ArgItem]]]
    redirections: list[Redirection]
    extent: Extent


# ------------------------------------------------------------------------------------------------
# Compilation


@lru_cache(maxsize=256)
def compile_script(text: str) -> CompiledBlock:
    """Parse and compile a script (cached by its text); raises :class:`ParseFailure`."""
    source = Source(text)
    tree = tree_sitter.Parser(_LANGUAGE).parse(source.data)
    problems = tree_problems(tree.root_node, source)
    strings = _collect(tree.root_node, "verbatim_string_characters")
    problems += string_problems(strings, source)
    compiler = _Compiler(source)
    if not problems:
        block = compiler.script(tree.root_node)
        problems = compiler.problems
        if not problems:
            return block
    problems.sort(key=lambda p: (p.line, p.column))
    raise ParseFailure(source, problems)


def _collect(root: tree_sitter.Node, kind: str) -> list[tree_sitter.Node]:
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == kind:
            found.append(node)
        stack.extend(node.children)
    found.sort(key=lambda n: n.start_byte)
    return found


_WRAPPERS = frozenset(
    {
        "pipeline_chain",
        "unary_expression",
        "logical_expression",
        "bitwise_expression",
        "comparison_expression",
        "additive_expression",
        "multiplicative_expression",
        "format_expression",
        "range_expression",
        "array_literal_expression",
        "argument_expression",
        "logical_argument_expression",
        "bitwise_argument_expression",
        "comparison_argument_expression",
        "additive_argument_expression",
        "multiplicative_argument_expression",
        "format_argument_expression",
        "range_argument_expression",
        "assignment_value",
        "left_assignment_expression",
        "key_expression",
        "expression_with_unary_operator",
        "switch_condition",
        "while_condition",
        "for_condition",
        "for_initializer",
        "for_iterator",
    }
)

_PS7_ONLY = {
    "pipeline_chain_tail": "&&",
    "ternary_expression": "?",
    "null_coalesce_expression": "??",
    "ternary_argument_expression": "?",
    "null_coalesce_argument_expression": "??",
}
"""PowerShell 7 syntax the grammar accepts and Windows PowerShell 5.1's parser rejects."""

_COMPARISON = {
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "like",
    "notlike",
    "match",
    "notmatch",
    "contains",
    "notcontains",
    "in",
    "notin",
    "replace",
    "split",
    "is",
    "isnot",
    "as",
    "join",
}


class _Compiler:
    """Turns tree-sitter nodes into closures. Unsupported constructs compile to code that raises."""

    def __init__(self, source: Source) -> None:
        self.src = source
        self.problems: list[ParseProblem] = []

    # -- helpers ------------------------------------------------------------------------------

    def text(self, node: tree_sitter.Node) -> str:
        return self.src.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    def extent(self, node: tree_sitter.Node) -> Extent:
        return Extent(self.src, node.start_byte, node.end_byte)

    def problem(self, node: tree_sitter.Node, message: str, error_id: str) -> None:
        self.problems.append(self.src.problem(node.start_byte, node.end_byte, message, error_id))

    def unsupported(self, node: tree_sitter.Node, what: str) -> Expr:
        extent = self.extent(node)

        def fail(fr: Frame) -> Any:
            raise _positioned(
                runtime_error(
                    f"The lab's PowerShell does not implement {what} yet.",
                    "NotImplemented",
                    "NotImplemented",
                    exception_type="System.NotImplementedException",
                    bases=("System.SystemException", "System.Exception"),
                ),
                extent,
            )

        return fail

    def unsupported_stmt(self, node: tree_sitter.Node, what: str) -> Stmt:
        fail = self.unsupported(node, what)

        def run(fr: Frame, out: list[Any]) -> None:
            fail(fr)

        return run

    # -- script blocks ------------------------------------------------------------------------

    def script(self, root: tree_sitter.Node) -> CompiledBlock:
        return self.block_body(root, self.text(root), root.children)

    def block_body(self, node: tree_sitter.Node, text: str, children: Sequence[tree_sitter.Node]) -> CompiledBlock:
        params: list[ParamDecl] | None = None
        advanced = False
        begin = process = end = None
        for child in children:
            if child.type == "param_block":
                params, advanced = self.param_block(child)
            elif child.type == "script_block":
                inner = self.block_body(child, text, child.children)
                if inner.params is not None:
                    params, advanced = inner.params, inner.advanced
                begin, process, end = inner.begin, inner.process, inner.end
            elif child.type == "script_block_body":
                for part in child.children:
                    if part.type == "statement_list":
                        end = self.statement_list(part)
                    elif part.type == "named_block_list":
                        for named in part.named_children:
                            kind = self.text(named.children[0]).lower()
                            body = named.children[1] if len(named.children) > 1 else None
                            compiled = self.statement_block(body) if body is not None else _nothing
                            if kind == "begin":
                                begin = compiled
                            elif kind == "process":
                                process = compiled
                            elif kind == "end":
                                end = compiled
                            else:
                                end = self.unsupported_stmt(named, f"the {kind} block")
            elif child.type == "statement_list":
                end = self.statement_list(child)
            elif child.type in ("requires_statement", "using_statement"):
                end = self.unsupported_stmt(child, child.type.replace("_", " "))
        return CompiledBlock(text, params, begin, process, end, advanced)

    def param_block(self, node: tree_sitter.Node) -> tuple[list[ParamDecl], bool]:
        advanced = False
        for child in node.children:
            if child.type == "attribute_list":
                advanced = True  # [CmdletBinding()] (about_Functions_CmdletBindingAttribute)
        params: list[ParamDecl] = []
        plist = next((c for c in node.children if c.type == "parameter_list"), None)
        if plist is not None:
            for decl in plist.named_children:
                if decl.type == "script_parameter":
                    param, adv = self.parameter(decl)
                    params.append(param)
                    advanced = advanced or adv
        return params, advanced

    def parameter(self, node: tree_sitter.Node) -> tuple[ParamDecl, bool]:
        name = ""
        type_name: str | None = None
        default: Expr | None = None
        mandatory = from_pipeline = by_name = advanced = False
        position: int | None = None
        aliases: list[str] = []
        for child in node.children:
            if child.type == "variable":
                name = self.text(child)[1:]
            elif child.type == "script_parameter_default":
                default = self.expr(child.named_children[-1])
            elif child.type == "attribute_list":
                for attribute in child.named_children:
                    literal = next((c for c in attribute.children if c.type == "type_literal"), None)
                    if literal is not None:
                        type_name = self.type_name(literal)
                        continue
                    attr_name = self.text(attribute.named_children[0]).lower()
                    arguments = [
                        a for c in attribute.children if c.type == "attribute_arguments" for a in c.named_children
                    ]
                    if attr_name in ("parameter", "system.management.automation.parameter"):
                        advanced = True
                        for argument in arguments:
                            key, _, value = self.text(argument).partition("=")
                            key = key.strip().lower()
                            truth = value.strip().lower() not in ("$false", "0") if value else True
                            if key == "mandatory":
                                mandatory = truth
                            elif key == "position":
                                position = int(value.strip())
                            elif key == "valuefrompipeline":
                                from_pipeline = truth
                            elif key == "valuefrompipelinebypropertyname":
                                by_name = truth
                    elif attr_name == "alias":
                        aliases += [single_quoted_value(self.text(a))[0] for a in arguments if self.text(a)[:1] == "'"]
        switch = type_name is not None and type_name.lower() in (
            "switch",
            "system.management.automation.switchparameter",
        )
        return (
            ParamDecl(name, type_name, default, mandatory, switch, position, from_pipeline, by_name, tuple(aliases)),
            advanced,
        )

    def type_name(self, node: tree_sitter.Node) -> str:
        """The text of a type literal without brackets: ``[string[]]`` -> ``string[]``."""
        text = self.text(node).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return re.sub(r"\s+", "", text)

    # -- statements ---------------------------------------------------------------------------

    def statement_list(self, node: tree_sitter.Node | None) -> Stmt:
        if node is None:
            return _nothing
        statements: list[tuple[Stmt, Extent]] = []
        traps: list[tuple[list[str], Stmt]] = []
        label: str | None = None
        for child in node.named_children:
            if child.type in ("empty_statement", "comment"):
                continue
            if child.type == "label":
                label = self.text(child)[1:].lower()
                continue
            if child.type == "trap_statement":
                # A trap covers its whole statement list, wherever it stands in it (about_Trap).
                types = [self.type_name(c) for c in child.named_children if c.type == "type_literal"]
                body = next((c for c in child.named_children if c.type == "statement_block"), None)
                traps.append((types, self.statement_block(body)))
                continue
            statements.append((self.statement(child, label), self.extent(child)))
            label = None
        return _run_statements(statements, traps)

    def statement_block(self, node: tree_sitter.Node | None) -> Stmt:
        if node is None:
            return _nothing
        inner = next((c for c in node.children if c.type == "statement_list"), None)
        return self.statement_list(inner)

    def statement(self, node: tree_sitter.Node, label: str | None = None) -> Stmt:
        kind = node.type
        if kind == "pipeline":
            return self.pipeline(node)
        if kind == "if_statement":
            return self.if_statement(node)
        if kind == "foreach_statement":
            return self.foreach_statement(node, label)
        if kind == "for_statement":
            return self.for_statement(node, label)
        if kind == "while_statement":
            return self.while_statement(node, label)
        if kind == "do_statement":
            return self.do_statement(node, label)
        if kind == "switch_statement":
            return self.switch_statement(node, label)
        if kind == "try_statement":
            return self.try_statement(node)
        if kind == "flow_control_statement":
            return self.flow_control(node)
        if kind == "function_statement":
            return self.function_statement(node)
        if kind in _PS7_ONLY:
            return self.ps7_only(node)
        names = {
            "class_statement": "class definitions",
            "enum_statement": "enum definitions",
            "data_statement": "data sections",
            "parallel_statement": "parallel blocks",
            "sequence_statement": "sequence blocks",
            "inlinescript_statement": "InlineScript",
        }
        return self.unsupported_stmt(node, names.get(kind, kind.replace("_", " ")))

    def ps7_only(self, node: tree_sitter.Node) -> Stmt:
        token = _PS7_ONLY.get(node.type, node.type)
        self.problem(
            node, f"The token '{token}' is not a valid statement separator in this version.", "InvalidEndOfLine"
        )
        return _nothing

    def pipeline(self, node: tree_sitter.Node) -> Stmt:
        children = node.named_children
        if len(children) == 1 and children[0].type == "assignment_expression":
            return self.assignment(children[0])
        for part in node.children:
            if part.type == "pipeline_chain_tail":
                self.ps7_only(part)
        chain = children[0] if children else node
        if chain.type == "pipeline_chain":
            for part in chain.children:
                if part.type == "pipeline_chain_tail":
                    self.ps7_only(part)
            stages = [c for c in chain.named_children if c.type not in ("comment",)]
        else:
            stages = [chain]
        return self.pipeline_stages(stages, self.extent(node))

    def pipeline_stages(self, stages: Sequence[tree_sitter.Node], extent: Extent) -> Stmt:
        compiled: list[CommandNode | Expr] = []
        for stage in stages:
            if stage.type == "command":
                compiled.append(self.command(stage))
            else:
                compiled.append(self.expr(stage))
        if len(compiled) == 1 and not isinstance(compiled[0], CommandNode):
            expression = compiled[0]
            first = _unwrap(stages[0])
            if first.type in _INCREMENTS or (
                first.type == "cast_expression" and self.type_name(first.children[0]).lower() in ("void", "system.void")
            ):
                # `$i++` and `[void](...)` as statements write nothing (about_Assignment_Operators, about_Type_Conversion).

                def run_increment(fr: Frame, out: list[Any]) -> None:
                    expression(fr)
                    fr.s.dollar_q = True

                return run_increment

            def run_expression(fr: Frame, out: list[Any]) -> None:
                value = expression(fr)
                if isinstance(value, list):
                    out.extend(value)
                elif isinstance(value, cv.Enumerable):
                    out.extend(value.ps_items())
                else:
                    out.append(value)
                fr.s.dollar_q = True

            return run_expression
        return _pipeline_runner(compiled, extent)

    def if_statement(self, node: tree_sitter.Node) -> Stmt:
        clauses: list[tuple[Expr, Stmt]] = []
        otherwise: Stmt | None = None
        condition = node.child_by_field_name("condition")
        block = next((c for c in node.children if c.type == "statement_block"), None)
        assert condition is not None
        clauses.append((self.pipeline_value(condition), self.statement_block(block)))
        for child in node.children:
            if child.type == "elseif_clauses":
                for clause in child.named_children:
                    cond = clause.child_by_field_name("condition")
                    body = next((c for c in clause.children if c.type == "statement_block"), None)
                    assert cond is not None
                    clauses.append((self.pipeline_value(cond), self.statement_block(body)))
            elif child.type == "else_clause":
                otherwise = self.statement_block(next(c for c in child.children if c.type == "statement_block"))

        def run(fr: Frame, out: list[Any]) -> None:
            for test, body in clauses:
                if cv.is_true(test(fr)):
                    body(fr, out)
                    return
            if otherwise is not None:
                otherwise(fr, out)

        return run

    def pipeline_value(self, node: tree_sitter.Node) -> Expr:
        """A pipeline used as a value (conditions, ``(...)``, assignment right sides)."""
        if node.type in ("pipeline", "pipeline_chain") or node.type in _WRAPPERS:
            inner = _unwrap(node)
            if inner.type not in ("command", "assignment_expression", "pipeline", "pipeline_chain"):
                # A pipeline of one expression is that expression's value, unenumerated: `$b = $a` keeps an
                # empty array an array (about_Assignment_Operators).
                return self.expr(inner)
            stmt = self.pipeline(node) if node.type == "pipeline" else self.pipeline_stages_of(node)
            if stmt is None:
                return self.expr(node)

            def value(fr: Frame) -> Any:
                out: list[Any] = []
                stmt(fr, out)
                return _collapse(out)

            return value
        return self.expr(node)

    def pipeline_stages_of(self, node: tree_sitter.Node) -> Stmt | None:
        if node.type == "pipeline_chain":
            stages = [c for c in node.named_children if c.type != "comment"]
            if any(s.type == "command" for s in stages):
                return self.pipeline_stages(stages, self.extent(node))
        return None

    def loop_body(self, node: tree_sitter.Node) -> Stmt:
        return self.statement_block(next((c for c in node.children if c.type == "statement_block"), None))

    def foreach_statement(self, node: tree_sitter.Node, label: str | None) -> Stmt:
        variable = next(c for c in node.children if c.type == "variable")
        name = self.text(variable)[1:]
        source_node = next(
            c for c in node.named_children if c.type not in ("variable", "statement_block", "foreach_parameter")
        )
        source = self.pipeline_value(source_node)
        body = self.loop_body(node)
        assign = _variable_setter(name)

        def run(fr: Frame, out: list[Any]) -> None:
            items = source(fr)
            for item in cv.as_list(items) if not isinstance(items, Hashtable) else [items]:
                assign(fr, item)
                try:
                    body(fr, out)
                except BreakSignal as signal:
                    if signal.label is None or signal.label == label:
                        break
                    raise
                except ContinueSignal as signal:
                    if signal.label is None or signal.label == label:
                        continue
                    raise

        return run

    def for_statement(self, node: tree_sitter.Node, label: str | None) -> Stmt:
        init = node.child_by_field_name("for_initializer")
        cond = node.child_by_field_name("for_condition")
        step = node.child_by_field_name("for_iterator")
        init_s = self.pipeline(init.named_children[0]) if init is not None and init.named_children else _nothing
        cond_e = self.pipeline_value(cond.named_children[0]) if cond is not None and cond.named_children else None
        step_s = self.pipeline(step.named_children[0]) if step is not None and step.named_children else _nothing
        body = self.loop_body(node)

        def run(fr: Frame, out: list[Any]) -> None:
            init_s(fr, out)
            while cond_e is None or cv.is_true(cond_e(fr)):
                try:
                    body(fr, out)
                except BreakSignal as signal:
                    if signal.label is None or signal.label == label:
                        break
                    raise
                except ContinueSignal as signal:
                    if not (signal.label is None or signal.label == label):
                        raise
                step_s(fr, out)

        return run

    def while_statement(self, node: tree_sitter.Node, label: str | None) -> Stmt:
        cond_node = node.child_by_field_name("condition")
        assert cond_node is not None
        cond = self.pipeline_value(cond_node.named_children[0])
        body = self.loop_body(node)

        def run(fr: Frame, out: list[Any]) -> None:
            while cv.is_true(cond(fr)):
                try:
                    body(fr, out)
                except BreakSignal as signal:
                    if signal.label is None or signal.label == label:
                        break
                    raise
                except ContinueSignal as signal:
                    if not (signal.label is None or signal.label == label):
                        raise

        return run

    def do_statement(self, node: tree_sitter.Node, label: str | None) -> Stmt:
        cond_node = node.child_by_field_name("condition")
        assert cond_node is not None
        cond = self.pipeline_value(cond_node.named_children[0])
        until = any(c.type == "until" for c in node.children)
        body = self.loop_body(node)

        def run(fr: Frame, out: list[Any]) -> None:
            while True:
                try:
                    body(fr, out)
                except BreakSignal as signal:
                    if signal.label is None or signal.label == label:
                        break
                    raise
                except ContinueSignal as signal:
                    if not (signal.label is None or signal.label == label):
                        raise
                if cv.is_true(cond(fr)) == until:
                    break

        return run

    def switch_statement(self, node: tree_sitter.Node, label: str | None) -> Stmt:
        options: set[str] = set()
        condition: Expr | None = None
        clauses: list[tuple[str, Any, Stmt]] = []
        for child in node.children:
            if child.type == "switch_parameters":
                for parameter in child.named_children:
                    options.add(self.text(parameter).lstrip("-").lower())
            elif child.type == "switch_condition":
                inner = [c for c in child.named_children]
                condition = self.pipeline_value(inner[0])
            elif child.type == "switch_filename":
                return self.unsupported_stmt(child, "switch -File")
            elif child.type == "switch_body":
                clauses += self.switch_clauses(child)
        assert condition is not None
        cond = condition
        mode = "regex" if "regex" in options else "wildcard" if "wildcard" in options else "equals"
        exact_case = "casesensitive" in options

        def run(fr: Frame, out: list[Any]) -> None:
            value = cond(fr)
            items = cv.as_list(value) if isinstance(value, list) else [value]
            for item in items:
                try:
                    _switch_item(fr, out, item, clauses, mode, exact_case)
                except BreakSignal as signal:
                    if signal.label is None or signal.label == label:
                        return
                    raise
                except ContinueSignal as signal:
                    if signal.label is None or signal.label == label:
                        continue
                    raise

        return run

    def switch_clauses(self, node: tree_sitter.Node) -> list[tuple[str, Any, Stmt]]:
        """A switch body's clauses as (kind, test, body): ``default``, a ``block`` test ({ ... }), or a
        ``value`` (an expression, or a bare word taken as its text)."""
        clauses: list[tuple[str, Any, Stmt]] = []
        for group in node.named_children:
            for clause in group.named_children:
                test = clause.named_children[0]
                body = self.statement_block(clause.named_children[1])
                text = self.text(test)
                if text.lower() == "default":
                    clauses.append(("default", None, body))
                elif test.named_children and test.named_children[0].type == "script_block_expression":
                    clauses.append(("block", self.expr(test.named_children[0]), body))
                else:
                    value_node = test.named_children[0] if test.named_children else None
                    if value_node is None:
                        clauses.append(("value", lambda fr, t=text: t, body))
                    else:
                        clauses.append(("value", self.expr(value_node), body))
        return clauses

    def try_statement(self, node: tree_sitter.Node) -> Stmt:
        body = self.statement_block(next(c for c in node.children if c.type == "statement_block"))
        catches: list[tuple[list[str], Stmt]] = []
        final: Stmt | None = None
        for child in node.children:
            if child.type == "catch_clauses":
                for clause in child.named_children:
                    types: list[str] = []
                    for part in clause.children:
                        if part.type == "catch_type_list":
                            types += [self.type_name(t) for t in part.named_children if t.type == "type_literal"]
                    block = next(c for c in clause.children if c.type == "statement_block")
                    catches.append((types, self.statement_block(block)))
            elif child.type == "finally_clause":
                final = self.statement_block(next(c for c in child.children if c.type == "statement_block"))
        if not catches and final is None:
            self.problem(node, "The Try statement is missing its Catch or Finally block.", "MissingCatchOrFinally")

        def run(fr: Frame, out: list[Any]) -> None:
            session = fr.s
            try:
                session.try_depth += 1
                try:
                    body(fr, out)
                finally:
                    session.try_depth -= 1
            except TerminatingError as error:
                record = error.record
                handler = _select_catch(session, catches, record)
                if handler is None:
                    raise
                session.add_error(record)
                saved = fr.scope.vars.get("_", _MISSING)
                fr.scope.vars["_"] = record
                try:
                    handler(fr, out)
                finally:
                    if saved is _MISSING:
                        fr.scope.vars.pop("_", None)
                    else:
                        fr.scope.vars["_"] = saved
            finally:
                if final is not None:
                    final(fr, out)

        return run

    def flow_control(self, node: tree_sitter.Node) -> Stmt:
        keyword = self.text(node.children[0]).lower()
        operand = node.named_children[-1] if node.named_children else None
        if operand is not None and operand.type in ("break", "continue", "return", "throw", "exit"):
            operand = None
        extent = self.extent(node)
        if keyword in ("break", "continue"):
            label = self.text(operand).lower() if operand is not None else None
            signal = BreakSignal if keyword == "break" else ContinueSignal

            def jump(fr: Frame, out: list[Any]) -> None:
                raise signal(label)

            return jump
        value = self.pipeline_value(operand) if operand is not None else None
        if keyword == "return":

            def ret(fr: Frame, out: list[Any]) -> None:
                if value is not None:
                    result = value(fr)
                    if isinstance(result, list):
                        out.extend(result)
                    elif result is not None or operand is not None:
                        out.append(result)
                raise ReturnSignal()

            return ret
        if keyword == "exit":

            def leave(fr: Frame, out: list[Any]) -> None:
                code = value(fr) if value is not None else 0
                try:
                    number = int(cv.to_number(code))
                except ScriptError:
                    number = 0
                raise ExitSignal(number)

            return leave

        def throw(fr: Frame, out: list[Any]) -> None:
            thrown = value(fr) if value is not None else None
            if value is None and isinstance(current := fr.scope.lookup("_"), ErrorRecord):
                # A bare throw in a catch block rethrows the error it caught (about_Try_Catch_Finally).
                raise _throw_error(fr, current)
            raise _positioned(_throw_error(fr, thrown), extent)

        return throw

    def function_statement(self, node: tree_sitter.Node) -> Stmt:
        keyword = self.text(node.children[0]).lower()
        if keyword == "workflow":
            return self.unsupported_stmt(node, "workflows")
        name_node = next(c for c in node.children if c.type == "function_name")
        name = self.text(name_node)
        decl = next((c for c in node.children if c.type == "function_parameter_declaration"), None)
        body_children = [c for c in node.children if c.type in ("script_block",)]
        start = next(i for i, c in enumerate(node.children) if c.type == "{")
        text = self.src.data[node.children[start].end_byte : node.children[-1].start_byte].decode("utf-8", "replace")
        block = self.block_body(node, text, body_children)
        if decl is not None:
            plist = next((c for c in decl.children if c.type == "parameter_list"), None)
            params = []
            advanced = False
            if plist is not None:
                for p in plist.named_children:
                    if p.type == "script_parameter":
                        param, adv = self.parameter(p)
                        params.append(param)
                        advanced = advanced or adv
            block.params, block.advanced = params, advanced
        is_filter = keyword == "filter"
        if is_filter and block.process is None:
            block.process, block.end = block.end, None
        info = FunctionInfo(name, block, is_filter)
        key = name.lower()
        scope_name = None
        if ":" in key:
            scope_name, _, key = key.partition(":")

        def define(fr: Frame, out: list[Any]) -> None:
            target = fr.s.global_scope if scope_name in ("global", "script") else fr.scope
            target.functions[key] = info

        return define

    # -- assignment ---------------------------------------------------------------------------

    def assignment(self, node: tree_sitter.Node) -> Stmt:
        target_node = node.children[0]
        operator = self.text(node.children[1]).strip()
        value_node = node.child_by_field_name("value") or node.children[-1]
        value = self.assignment_value(value_node)
        target = _unwrap(target_node)
        if operator == "??=":
            self.ps7_only(node)
            return _nothing
        if target.type == "array_literal_expression":
            setters = [self.setter(t) for t in target.named_children]

            def multi(fr: Frame, out: list[Any]) -> None:
                items = cv.as_list(value(fr))
                for index, setter in enumerate(setters):
                    if index == len(setters) - 1:
                        rest = items[index:]
                        setter(fr, rest[0] if len(rest) == 1 else (rest or None))
                    else:
                        setter(fr, items[index] if index < len(items) else None)

            return multi
        if target.type == "cast_expression":
            # [int]$x = '5': a typed variable (the conversion applies to this assignment).
            type_name = self.type_name(target.children[0])
            setter = self.setter(target.children[-1])

            def typed(fr: Frame, out: list[Any]) -> None:
                setter(fr, fr.s.convert(value(fr), type_name))

            return typed
        setter = self.setter(target)
        if operator == "=":

            def assign(fr: Frame, out: list[Any]) -> None:
                setter(fr, value(fr))

            return assign
        getter = self.expr(target)
        binary = _BINARY[{"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%"}[operator]]

        def compound(fr: Frame, out: list[Any]) -> None:
            setter(fr, binary(fr, getter(fr), value(fr)))

        return compound

    def assignment_value(self, node: tree_sitter.Node) -> Expr:
        inner = _unwrap_value(node)
        if inner.type == "pipeline":
            return self.pipeline_value(inner)
        if inner.type == "pipeline_chain":
            chain = self.pipeline_stages_of(inner)
            if chain is not None:
                run_chain: Stmt = chain

                def value(fr: Frame) -> Any:
                    out: list[Any] = []
                    run_chain(fr, out)
                    return _collapse(out)

                return value
        if inner.type == "assignment_expression":
            assign = self.assignment(inner)
            getter = self.expr(_unwrap(inner.children[0]))

            def chained(fr: Frame) -> Any:
                assign(fr, [])
                return getter(fr)

            return chained
        if inner.type in ("if_statement", "switch_statement", "foreach_statement", "for_statement", "while_statement"):
            stmt = self.statement(inner)

            def statement_value(fr: Frame) -> Any:
                out: list[Any] = []
                stmt(fr, out)
                return _collapse(out)

            return statement_value
        return self.expr(inner)

    def setter(self, node: tree_sitter.Node) -> Callable[[Frame, Any], None]:
        node = _unwrap(node)
        if node.type == "variable":
            return _variable_setter(self.variable_name(node))
        if node.type == "member_access":
            obj = self.expr(node.children[0])
            name = self.member_name(node.children[-1])
            static = self.text(node.children[1]) == "::"

            def set_member(fr: Frame, value: Any) -> None:
                target = obj(fr)
                fr.s.set_member(target, name(fr), value, static)

            return set_member
        if node.type == "element_access":
            obj = self.expr(node.children[0])
            index = self.expr(node.children[2])

            def set_element(fr: Frame, value: Any) -> None:
                fr.s.set_index(obj(fr), index(fr), value)

            return set_element
        if node.type == "cast_expression":
            type_name = self.type_name(node.children[0])
            inner = self.setter(node.children[-1])

            def set_typed(fr: Frame, value: Any) -> None:
                inner(fr, fr.s.convert(value, type_name))

            return set_typed
        self.problem(
            node,
            "The assignment expression is not valid. The input to an assignment operator must be an "
            "object that is able to accept assignments, such as a variable or a property.",
            "InvalidLeftHandSide",
        )
        return lambda fr, value: None

    def variable_name(self, node: tree_sitter.Node) -> str:
        text = self.text(node)
        if text.startswith("${") and text.endswith("}"):
            return text[2:-1]
        return text[1:]

    # -- commands -----------------------------------------------------------------------------

    def command(self, node: tree_sitter.Node) -> CommandNode:
        invocation = None
        name: str | None = None
        name_expr: Expr | None = None
        elements: list[Callable[[Frame], list[ArgItem]]] = []
        redirections: list[Redirection] = []
        for child in node.children:
            if child.type == "command_invocation_operator":
                invocation = self.text(child).strip()
            elif child.type == "command_name":
                name = self.text(child)
                given = [
                    e
                    for c in node.children
                    if c.type == "command_elements"
                    for e in c.named_children
                    if e.type != "command_argument_sep"
                ]
                if _NUMERIC_COMMAND.fullmatch(name) and not given:
                    # The grammar reads `1..3` or `(3*4)` at a statement's start as a command named `1..3`;
                    # PowerShell reads a token starting with a digit as a number, hence an expression.
                    name_expr = self.reparsed_expression(name, child)
                    name = None
                    invocation = "value"
            elif child.type == "command_name_expr":
                inner = child.named_children[0]
                if inner.type == "path_command_name":
                    if len(inner.named_children) == 1 and inner.named_children[0].type == "variable":
                        name_expr = self.expr(inner.named_children[0])
                    else:
                        name = self.text(inner)
                elif inner.type in ("command_name", "generic_token"):
                    name = self.text(inner)
                else:
                    name_expr = self.expr(inner)
            elif child.type == "command_elements":
                elements, redirections = self.command_elements(child)
        return CommandNode(name, name_expr, invocation, elements, redirections, self.extent(node))

    def reparsed_expression(self, text: str, node: tree_sitter.Node) -> Expr:
        """Compile ``text`` as a parenthesised expression (for the grammar's numeric command names)."""
        spaced = " ".join(_NUMERIC_TOKENS.findall(text))  # `1..4` -> `1 .. 4`, which the grammar reads as a range
        source = Source("(" + spaced + ")")
        tree = tree_sitter.Parser(_LANGUAGE).parse(source.data)
        compiler = _Compiler(source)
        statements = [c for c in tree.root_node.named_children if c.type == "statement_list"]
        if tree.root_node.has_error or not statements or not statements[0].named_children:
            self.problem(node, f"Unexpected token '{text}' in expression or statement.", "UnexpectedToken")
            return lambda fr: None
        return compiler.pipeline_value(statements[0].named_children[0])

    def command_elements(
        self, node: tree_sitter.Node
    ) -> tuple[list[Callable[[Frame], list[ArgItem]]], list[Redirection]]:
        elements: list[Callable[[Frame], list[ArgItem]]] = []
        redirections: list[Redirection] = []
        children = [c for c in node.children if c.type != "command_argument_sep"]
        index = 0
        while index < len(children):
            child = children[index]
            kind = child.type
            if kind == "command_parameter":
                text = self.text(child)
                colon = self.src.data[child.end_byte : child.end_byte + 1] == b":" or text.endswith(":")
                pname = text[1:].rstrip(":")
                value_fn: Expr | None = None
                if colon and index + 1 < len(children):
                    value_fn = self.argument(children[index + 1])
                    index += 1
                elements.append(_param_item(pname, text.rstrip(":"), value_fn, colon))
            elif kind == "redirection":
                redirections.append(self.redirection(child))
            elif kind == "stop_parsing":
                elements.append(_value_item(self.unsupported(child, "--%")))
            else:
                splat = (
                    kind == "unary_expression" and child.named_children and child.named_children[0].type == "variable"
                )
                var_text = self.text(child.named_children[0]) if splat else ""
                if kind == "variable":
                    var_text = self.text(child)
                if var_text.startswith("@"):
                    elements.append(_splat_item(_variable_getter(var_text[1:])))
                else:
                    elements.append(_value_item(self.argument(child)))
            index += 1
        return elements, redirections

    def argument(self, node: tree_sitter.Node) -> Expr:
        kind = node.type
        if kind == "generic_token":
            text = _bareword(self.text(node))
            return lambda fr: text
        if kind == "bareword_argument_list":
            # a,b,c in argument mode: an array of barewords and values.
            parts = [self.argument(c) for c in node.named_children]
            return lambda fr: [p(fr) for p in parts]
        if kind == "concatenated_command_argument":
            parts = [self.argument(c) for c in node.named_children]
            return lambda fr: "".join(fr.s.to_string(p(fr)) for p in parts)
        if kind == "escape_character":
            escaped = _bareword(self.text(node))
            return lambda fr: escaped
        if kind == "expandable_bareword":
            return self.expandable(node, self.text(node), 0)
        return self.expr(node)

    def redirection(self, node: tree_sitter.Node) -> Redirection:
        operator = self.text(node.children[0]).strip()
        if operator.endswith("&1") or operator.endswith("&2"):
            return Redirection(operator[0] if operator[0] != ">" else "1", True)
        target_node = node.named_children[-1] if len(node.named_children) > 1 else None
        target = None
        if target_node is not None:
            inner = [c for c in target_node.named_children if c.type != "command_argument_sep"]
            target = self.argument(inner[0]) if inner else None
        stream = operator.rstrip(">") or "1"
        return Redirection(stream, False, target, operator.endswith(">>"))

    # -- expressions --------------------------------------------------------------------------

    def expr(self, node: tree_sitter.Node) -> Expr:
        kind = node.type
        method = getattr(self, "x_" + kind, None)
        if method is not None:
            result: Expr = method(node)
            return result
        if kind in _WRAPPERS:
            named = [c for c in node.children if c.type != "comment"]
            if len(named) == 1:
                return self.expr(named[0])
            return self.operator_expression(node)
        if kind == "pipeline":
            return self.pipeline_value(node)
        if kind in _PS7_ONLY:
            self.ps7_only(node)
            return lambda fr: None
        if kind == "command":
            stmt = self.pipeline_stages([node], self.extent(node))

            def value(fr: Frame) -> Any:
                out: list[Any] = []
                stmt(fr, out)
                return _collapse(out)

            return value
        if kind == "generic_token":
            text = self.text(node)
            return lambda fr: text
        return self.unsupported(node, f"the expression '{kind}'")

    def operator_expression(self, node: tree_sitter.Node) -> Expr:
        children = [c for c in node.children if c.type != "comment"]
        kind = node.type
        if kind == "array_literal_expression":
            items = [self.expr(c) for c in children if c.type != ","]
            return lambda fr: [item(fr) for item in items]
        if kind in ("expression_with_unary_operator",):
            return self.unary(node)
        if len(children) == 2:
            return self.unary(node)
        left = self.expr(children[0])
        right = self.expr(children[2])
        op_node = children[1]
        op = self.text(op_node).strip().lower()
        if kind in ("logical_expression", "logical_argument_expression"):
            if op == "-and":
                return lambda fr: cv.is_true(left(fr)) and cv.is_true(right(fr))
            if op == "-or":
                return lambda fr: cv.is_true(left(fr)) or cv.is_true(right(fr))
            return lambda fr: cv.is_true(left(fr)) != cv.is_true(right(fr))
        if kind in ("comparison_expression", "comparison_argument_expression"):
            return self.comparison(op, left, right, children[2])
        if kind in ("range_expression", "range_argument_expression"):
            return lambda fr: _range(left(fr), right(fr))
        if kind in ("format_expression", "format_argument_expression"):
            return lambda fr: cv.format_operator(fr.s.to_string(left(fr)), cv.as_list(right(fr)))
        binary = _BINARY.get(op)
        if binary is None:
            return self.unsupported(op_node, f"the operator '{op}'")
        return lambda fr: binary(fr, left(fr), right(fr))

    def comparison(self, op: str, left: Expr, right: Expr, right_node: tree_sitter.Node) -> Expr:
        word = op.lstrip("-")
        case = False
        if word[:1] in ("c", "i") and word[1:] in _COMPARISON:
            case = word[0] == "c"
            word = word[1:]
        if word in ("is", "isnot", "as"):
            type_expr = right
            if _unwrap(right_node).type == "type_literal":
                tname = self.type_name(_unwrap(right_node))
                type_expr = lambda fr: tname  # noqa: E731
            if word == "as":
                return lambda fr: fr.s.try_convert(left(fr), type_expr(fr))
            negate = word == "isnot"
            return lambda fr: fr.s.is_type(left(fr), type_expr(fr)) != negate
        shift = _BINARY.get("-" + word)
        if shift is not None:  # the grammar files -shl/-shr with the comparison operators
            return lambda fr: shift(fr, left(fr), right(fr))
        func = _COMPARE_FUNCS.get(word)
        if func is None:
            return self.unsupported(right_node, f"the operator '{op}'")
        return lambda fr: func(fr, left(fr), right(fr), case)

    def unary(self, node: tree_sitter.Node) -> Expr:
        children = [c for c in node.children if c.type != "comment"]
        if len(children) == 1:
            return self.expr(children[0])
        op = self.text(children[0]).strip().lower()
        operand = self.expr(children[1])
        if op in ("-not", "!"):
            return lambda fr: not cv.is_true(operand(fr))
        if op == "-":
            return lambda fr: _negate(operand(fr))
        if op == "+":
            return lambda fr: cv.to_number(operand(fr))
        if op == ",":
            return lambda fr: [operand(fr)]
        if op == "-bnot":
            return lambda fr: ~int(cv.to_number(operand(fr)))
        if op in ("-split", "-isplit", "-csplit"):
            return lambda fr: [p for s in cv.as_list(operand(fr)) for p in fr.s.to_string(s).split() if p]
        if op == "-join":
            return lambda fr: "".join(fr.s.to_string(v) for v in cv.as_list(operand(fr)))
        return self.unsupported(children[0], f"the unary operator '{op}'")

    def x_parenthesized_expression(self, node: tree_sitter.Node) -> Expr:
        inner = [c for c in node.named_children if c.type != "comment"]
        if not inner:
            return lambda fr: None
        return self.pipeline_value(inner[0])

    def x_sub_expression(self, node: tree_sitter.Node) -> Expr:
        statements = self.statement_list(next((c for c in node.children if c.type == "statement_list"), None))

        def value(fr: Frame) -> Any:
            out: list[Any] = []
            statements(fr, out)
            return _collapse(out)

        return value

    def x_array_expression(self, node: tree_sitter.Node) -> Expr:
        statements = self.statement_list(next((c for c in node.children if c.type == "statement_list"), None))

        def value(fr: Frame) -> Any:
            out: list[Any] = []
            statements(fr, out)
            return out

        return value

    def x_hash_literal_expression(self, node: tree_sitter.Node) -> Expr:
        body = next((c for c in node.children if c.type == "hash_literal_body"), None)
        entries: list[tuple[Expr, Expr]] = []
        seen: set[str] = set()
        if body is not None:
            for entry in body.named_children:
                if entry.type != "hash_entry":
                    continue
                key_node = entry.children[0]
                value_node = next(c for c in entry.children[1:] if c.is_named)
                key = self.hash_key(key_node)
                literal = _literal_key(self, key_node)
                if literal is not None:
                    if literal.lower() in seen:
                        self.problem(
                            key_node,
                            f"Duplicate keys '{literal}' are not allowed in hash literals.",
                            "DuplicateKeyInHashLiteral",
                        )
                    seen.add(literal.lower())
                entries.append((key, self.assignment_value(value_node)))

        def value(fr: Frame) -> Any:
            table = Hashtable()
            for key, item in entries:
                k = key(fr)
                if k in table:
                    raise runtime_error(
                        f"Duplicate keys '{fr.s.to_string(k)}' are not allowed in hash literals.",
                        "DuplicateKeyInHashLiteral",
                    )
                table[k] = item(fr)
            return table

        return value

    def hash_key(self, node: tree_sitter.Node) -> Expr:
        inner = _unwrap(node)
        if inner.type == "simple_name" or node.type == "key_expression" and inner is node:
            text = self.text(inner)
            return lambda fr: text
        return self.expr(inner)

    def x_script_block_expression(self, node: tree_sitter.Node) -> Expr:
        parts = [c for c in node.children if c.type in ("script_block", "param_block")]
        text = self.src.data[node.children[0].end_byte : node.children[-1].start_byte].decode("utf-8", "replace")
        block = self.block_body(node, text, parts)
        return lambda fr: ScriptBlock(text, block, block.params)

    def x_string_literal(self, node: tree_sitter.Node) -> Expr:
        return self.expr(node.named_children[0])

    def x_verbatim_string_characters(self, node: tree_sitter.Node) -> Expr:
        value, _ = single_quoted_value(self.text(node))
        return lambda fr: value

    def x_verbatim_here_string_characters(self, node: tree_sitter.Node) -> Expr:
        value = _here_body(self.text(node))
        return lambda fr: value

    def x_expandable_string_literal(self, node: tree_sitter.Node) -> Expr:
        return self.expandable(node, self.text(node), 1)

    def x_expandable_here_string_literal(self, node: tree_sitter.Node) -> Expr:
        return self.expandable(node, self.text(node), 2, here=True)

    def expandable(self, node: tree_sitter.Node, text: str, quote: int, here: bool = False) -> Expr:
        """An expandable string: literal runs (backtick escapes applied) and the variables and
        ``$(...)`` the grammar found in it (about_Quoting_Rules)."""
        parts: list[str | Expr] = []
        position = node.start_byte + len(text[:quote].encode("utf-8"))
        end = node.end_byte - quote
        if here:
            raw = self.src.data[position:end].decode("utf-8", "replace")
            skip = re.match(r"[ \t]*(\r\n|\r|\n)", raw)
            position += len(skip.group(0).encode()) if skip else 0
            tail = re.search(r"(\r\n|\r|\n)$", self.src.data[position:end].decode("utf-8", "replace"))
            end -= len(tail.group(0).encode()) if tail else 0
        for child in node.named_children:
            if child.start_byte < position or child.start_byte >= end:
                continue
            if child.start_byte > position:
                parts.append(_unescape(self.src.data[position : child.start_byte].decode("utf-8", "replace"), here))
            if child.type in ("variable", "sub_expression"):
                parts.append(self.expr(child))
            else:
                parts.append(_unescape(self.text(child), here))
            position = child.end_byte
        if end > position:
            parts.append(_unescape(self.src.data[position:end].decode("utf-8", "replace"), here))
        if all(isinstance(p, str) for p in parts):
            constant = "".join(p for p in parts if isinstance(p, str))
            return lambda fr: constant

        def value(fr: Frame) -> Any:
            return "".join(p if isinstance(p, str) else fr.s.to_string(p(fr)) for p in parts)

        return value

    def x_integer_literal(self, node: tree_sitter.Node) -> Expr:
        number = _number_literal(self.text(node))
        return lambda fr: number

    def x_real_literal(self, node: tree_sitter.Node) -> Expr:
        number = _number_literal(self.text(node))
        return lambda fr: number

    def x_variable(self, node: tree_sitter.Node) -> Expr:
        return _variable_getter(self.variable_name(node), self.extent(node))

    def x_type_literal(self, node: tree_sitter.Node) -> Expr:
        name = self.type_name(node)
        return lambda fr: fr.s.resolve_type(name)

    def x_cast_expression(self, node: tree_sitter.Node) -> Expr:
        type_name = self.type_name(node.children[0])
        operand = self.expr(node.children[-1])
        if type_name.lower() == "ordered":
            inner = _unwrap(node.children[-1])
            if inner.type != "hash_literal_expression":
                self.problem(
                    node,
                    "The ordered attribute can be specified only on a hash literal node.",
                    "OrderedAttributeOnlyOnHashLiteralNode",
                )

            def ordered(fr: Frame) -> Any:
                table = operand(fr)
                result = OrderedDictionary()
                for key, value in table.items():
                    result[key] = value
                return result

            return ordered
        return lambda fr: fr.s.convert(operand(fr), type_name)

    def member_name(self, node: tree_sitter.Node) -> Expr:
        inner = node.named_children[0] if node.type == "member_name" and node.named_children else node
        if inner.type == "simple_name":
            text = self.text(inner)
            return lambda fr: text
        value = self.expr(inner)
        return lambda fr: fr.s.to_string(value(fr))

    def x_member_access(self, node: tree_sitter.Node) -> Expr:
        obj = self.expr(node.children[0])
        static = self.text(node.children[1]) == "::"
        name = self.member_name(node.children[-1])
        extent = self.extent(node)

        def get(fr: Frame) -> Any:
            session = fr.s
            target = obj(fr)
            session.strict_level = fr.scope.strict
            return session.get_member(target, name(fr), static, extent)

        return get

    def x_invocation_expression(self, node: tree_sitter.Node) -> Expr:
        if len(node.children) < 3:
            return self.expr(node.children[0])  # wraps .ForEach()/.Where()
        obj = self.expr(node.children[0])
        static = self.text(node.children[1]) == "::"
        name = self.member_name(node.children[2])
        arglist = node.children[3] if len(node.children) > 3 else None
        args: list[Expr] = []
        if arglist is not None:
            exprs = next((c for c in arglist.children if c.type == "argument_expression_list"), None)
            if exprs is not None:
                args = [self.expr(a) for a in exprs.named_children]
        extent = self.extent(node)

        def call(fr: Frame) -> Any:
            target = obj(fr)
            values = [a(fr) for a in args]
            fr.s.strict_level = fr.scope.strict
            return fr.s.call_method(target, name(fr), values, static, extent)

        return call

    def x_element_access(self, node: tree_sitter.Node) -> Expr:
        obj = self.expr(node.children[0])
        index = self.expr(node.children[2])

        def get(fr: Frame) -> Any:
            target, key = obj(fr), index(fr)
            fr.s.strict_level = fr.scope.strict
            return fr.s.get_index(target, key)

        return get

    def x_pre_increment_expression(self, node: tree_sitter.Node) -> Expr:
        return self.increment(node.children[-1], 1, True)

    def x_pre_decrement_expression(self, node: tree_sitter.Node) -> Expr:
        return self.increment(node.children[-1], -1, True)

    def x_post_increment_expression(self, node: tree_sitter.Node) -> Expr:
        return self.increment(node.children[0], 1, False)

    def x_post_decrement_expression(self, node: tree_sitter.Node) -> Expr:
        return self.increment(node.children[0], -1, False)

    def increment(self, target: tree_sitter.Node, step: int, pre: bool) -> Expr:
        getter = self.expr(target)
        setter = self.setter(target)

        def run(fr: Frame) -> Any:
            old = cv.to_number(getter(fr))
            new = old + step
            setter(fr, new)
            return new if pre else old

        return run

    def x_expression_with_unary_operator(self, node: tree_sitter.Node) -> Expr:
        return self.unary(node)

    def x_command(self, node: tree_sitter.Node) -> Expr:
        stmt = self.pipeline_stages([node], self.extent(node))

        def value(fr: Frame) -> Any:
            out: list[Any] = []
            stmt(fr, out)
            return _collapse(out)

        return value

    def x_label_expression(self, node: tree_sitter.Node) -> Expr:
        text = self.text(node)
        return lambda fr: text

    def x_invocation_foreach_expression(self, node: tree_sitter.Node) -> Expr:
        return self.collection_method(node, where=False)

    def x_invocation_where_expression(self, node: tree_sitter.Node) -> Expr:
        return self.collection_method(node, where=True)

    def collection_method(self, node: tree_sitter.Node, *, where: bool) -> Expr:
        """``.ForEach({...})`` and ``.Where({...})`` (about_Arrays, "ForEach and Where methods"): the block runs
        for each element with ``$_``; the result is a collection (``.Where`` keeps the elements it accepts)."""
        target = self.expr(node.named_children[0])
        arglist = next((c for c in node.named_children if c.type == "argument_list"), None)
        exprs = (
            next((c for c in arglist.named_children if c.type == "argument_expression_list"), None) if arglist else None
        )
        args = [self.expr(a) for a in exprs.named_children] if exprs is not None else []
        if len(args) != 1:
            return self.unsupported(node, "the .ForEach()/.Where() overloads with other than one script block")
        block_expr = args[0]
        extent = self.extent(node)

        def run(fr: Frame) -> Any:
            block = block_expr(fr)
            if not isinstance(block, ScriptBlock):
                raise _positioned(
                    runtime_error(
                        "The lab's PowerShell does not implement .ForEach()/.Where() with a non-script-block argument yet.",
                        "NotImplemented",
                        "NotImplemented",
                    ),
                    extent,
                )
            out: list[Any] = []
            for item in cv.as_list(target(fr)):
                result = fr.s.invoke_block(block, [], dollar_under=item, scope=fr.scope, dot=True)
                if where:
                    if cv.is_true(_collapse(result)):
                        out.append(item)
                else:
                    out.extend(result)
            return out

        return run


_INCREMENTS = frozenset(
    {"post_increment_expression", "post_decrement_expression", "pre_increment_expression", "pre_decrement_expression"}
)


def _nothing(fr: Frame, out: list[Any]) -> None:
    return None


def _unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    while node.type in _WRAPPERS or node.type == "pipeline":
        named = [c for c in node.children if c.type != "comment"]
        if len(named) != 1:
            break
        node = named[0]
    return node


def _unwrap_value(node: tree_sitter.Node) -> tree_sitter.Node:
    if node.type == "assignment_value" and len(node.named_children) == 1:
        return node.named_children[0]
    return node


def _literal_key(compiler: _Compiler, node: tree_sitter.Node) -> str | None:
    inner = _unwrap(node)
    if inner.type == "simple_name":
        return compiler.text(inner)
    if inner.type == "string_literal" and inner.named_children[0].type == "verbatim_string_characters":
        return single_quoted_value(compiler.text(inner.named_children[0]))[0]
    return None


def _here_body(token: str) -> str:
    body = token[2:-2]
    body = re.sub(r"^[ \t]*(\r\n|\r|\n)", "", body, count=1)
    return re.sub(r"(\r\n|\r|\n)$", "", body, count=1)


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(text: str, here: bool = False) -> str:
    """Backtick escapes and doubled quotes of a double-quoted string (about_Special_Characters)."""
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "`" and index + 1 < len(text):
            nxt = text[index + 1]
            if nxt == "u" and index + 2 < len(text) and text[index + 2] == "{":
                out.append("`u")  # `u{...} is PowerShell 6+: 5.1 keeps the text.
                index += 2
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            index += 2
            continue
        if (
            not here
            and char in '"\u201c\u201d\u201e'
            and index + 1 < len(text)
            and text[index + 1] in '"\u201c\u201d\u201e'
        ):
            out.append(text[index + 1])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _bareword(text: str) -> str:
    """A command argument's bareword: backticks escape the next character."""
    if "`" not in text:
        return text
    return re.sub(r"`(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


_SUFFIX = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def _number_literal(text: str) -> Any:
    """A numeric literal (about_Numeric_Literals): ``0x`` hex, ``L``/``D`` type suffixes, ``kb``..``pb``."""
    lowered = text.lower()
    multiplier = 1
    for suffix, factor in _SUFFIX.items():
        if lowered.endswith(suffix):
            multiplier, lowered = factor, lowered[: -len(suffix)]
            break
    if lowered.startswith("0x"):
        digits = lowered[2:].rstrip("l")
        return int(digits, 16) * multiplier
    if lowered.endswith("d") and not lowered.startswith("0x"):
        return Decimal(lowered[:-1]) * multiplier
    if lowered.endswith("l"):
        return Long(int(lowered[:-1]) * multiplier)
    if any(c in lowered for c in ".e"):
        value = float(lowered) * multiplier
        return value
    return int(lowered) * multiplier


_NUMERIC_COMMAND = re.compile(r"[\d.][\d.\s+\-*/%()xXa-fA-FkKmMgGtTpPbBlLdD]*")
"""A command name the grammar produced out of an arithmetic expression (digits, operators, suffixes)."""
_NUMERIC_TOKENS = re.compile(r"\.\.|0[xX][0-9a-fA-F]+[lL]?|(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*|\S")


def _range(left: Any, right: Any) -> list[int]:
    a, b = int(cv.to_number(left)), int(cv.to_number(right))
    return list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))


def _negate(value: Any) -> Any:
    number = cv.to_number(value)
    return -number


def _collapse(out: list[Any]) -> Any:
    """A pipeline's output as a value: nothing is $null, one object is itself, more are an array."""
    if not out:
        return None
    if len(out) == 1:
        return out[0]
    return list(out)


def _match_table(match: re.Match[str]) -> Hashtable:
    """``$Matches``: group numbers and names to the text they matched (about_Regular_Expressions)."""
    table = Hashtable()
    table[0] = match.group(0)
    names = {index: name for name, index in match.re.groupindex.items()}
    for index in range(1, (match.re.groups or 0) + 1):
        if match.group(index) is not None:
            table[names.get(index, index)] = match.group(index)
    return table


def _positioned(error: ScriptError, extent: Extent) -> ScriptError:
    if getattr(error.record, "_position", None) is None:
        error.record._position = extent  # type: ignore[attr-defined]
    return error


def _throw_error(fr: Frame, thrown: Any) -> ScriptError:
    """What ``throw`` raises (about_Throw): an ErrorRecord as is, an exception wrapped, anything else as text."""
    if isinstance(thrown, ErrorRecord):
        return ScriptError(thrown, fatal=True)
    if isinstance(thrown, NetException):
        record = ErrorRecord(thrown, thrown.message, "OperationStopped", None)
        return ScriptError(record, fatal=True)
    message = "ScriptHalted" if thrown is None else fr.s.to_string(thrown)
    exception = NetException(
        "System.Management.Automation.RuntimeException",
        message,
        base_names=("System.SystemException", "System.Exception"),
    )
    return ScriptError(ErrorRecord(exception, message, "OperationStopped", thrown), fatal=True)


def _switch_item(
    fr: Frame, out: list[Any], item: Any, clauses: list[tuple[str, Any, Stmt]], mode: str, exact_case: bool
) -> None:
    """One input through a switch: the body of every clause that matches, else the default clauses'."""
    matched = False
    for kind, test, body in clauses:
        if kind == "default":
            continue
        if _switch_matches(fr, item, kind, test, mode, exact_case):
            matched = True
            fr.scope.vars["_"] = item
            body(fr, out)
    if not matched:
        for kind, _, body in clauses:
            if kind == "default":
                fr.scope.vars["_"] = item
                body(fr, out)


def _switch_matches(fr: Frame, item: Any, kind: str, test: Any, mode: str, exact_case: bool) -> bool:
    """Whether a switch clause matches one input: a block test by its result, a value by ``-Regex``
    (setting ``$Matches``), ``-Wildcard``, or equality, case-insensitive unless ``-CaseSensitive``."""
    if kind == "block":
        result = fr.s.invoke_block(test(fr), [], dollar_under=item, scope=fr.scope)
        return cv.is_true(_collapse(result))
    pattern = test(fr)
    if mode == "regex":
        found = cv.convert_regex(cv.to_string(pattern), exact_case).search(cv.to_string(item))
        if found:
            fr.scope.vars["matches"] = _match_table(found)
        return found is not None
    if mode == "wildcard":
        return cv.like_pattern(cv.to_string(pattern), exact_case).match(cv.to_string(item)) is not None
    # A string clause compares the input's string form (about_Switch).
    if isinstance(pattern, str):
        text = fr.s.to_string(item)
        return text == pattern if exact_case else text.lower() == pattern.lower()
    return cv.equals(item, pattern, exact_case) if item is not None else pattern is None


def _select_catch(session: Session, catches: list[tuple[list[str], Stmt]], record: ErrorRecord) -> Stmt | None:
    names = {record.exception.type_name.lower(), *(b.lower() for b in record.exception.base_names)}
    names.add("system.exception")
    for types, handler in catches:
        if not types:
            return handler
        for type_name in types:
            full = session.type_full_name(type_name)
            if full.lower() in names:
                return handler
    return None


def _run_statements(statements: list[tuple[Stmt, Extent]], traps: list[tuple[list[str], Stmt]]) -> Stmt:
    if not statements:
        return _nothing

    def run(fr: Frame, out: list[Any]) -> None:
        session = fr.s
        for stmt, extent in statements:
            try:
                stmt(fr, out)
            except TerminatingError as error:
                if not traps:
                    _handle(fr, error, extent)
                    continue
                _positioned_record(error.record, extent)
                handler = _select_catch(session, traps, error.record)
                if handler is None:
                    _handle(fr, error, extent)
                    continue
                if _run_trap(fr, handler, error.record, out):
                    session.report_error(error.record, fr)
                session.dollar_q = False

    return run


def _run_trap(fr: Frame, handler: Stmt, record: ErrorRecord, out: list[Any]) -> bool:
    """Run a trap's body with ``$_`` the error; True when the error is still to be shown (the body ended
    without ``continue``). ``break`` in the body makes the error terminate the enclosing scope (about_Trap)."""
    fr.s.add_error(record)
    saved = fr.scope.vars.get("_", _MISSING)
    fr.scope.vars["_"] = record
    try:
        handler(fr, out)
    except ContinueSignal:
        return False
    except BreakSignal:
        raise ScriptError(record, fatal=True) from None
    finally:
        if saved is _MISSING:
            fr.scope.vars.pop("_", None)
        else:
            fr.scope.vars["_"] = saved
    return True


def _positioned_record(record: ErrorRecord, extent: Extent) -> None:
    if getattr(record, "_position", None) is None:
        record._position = extent  # type: ignore[attr-defined]


def _handle(fr: Frame, error: TerminatingError, extent: Extent) -> None:
    """An error no trap of this scope handles: it ends the statement, or unwinds when it must."""
    session = fr.s
    if isinstance(error, ScriptError):
        _positioned(error, extent)
        if error.fatal or session.try_depth or session.stops(fr):
            error.fatal = True
            raise error
        session.report_error(error.record, fr)
        session.dollar_q = False
        return
    _positioned_record(error.record, extent)
    if session.try_depth or session.stops(fr):
        raise ScriptError(error.record, fatal=True) from None
    session.report_error(error.record, fr)
    session.dollar_q = False


def _splat_item(getter: Expr) -> Callable[[Frame], list[ArgItem]]:
    return lambda fr: [ArgItem("splat", value=getter(fr))]


def _value_item(value: Expr) -> Callable[[Frame], list[ArgItem]]:
    return lambda fr: [ArgItem("value", value=value(fr), has_value=True)]


def _param_item(name: str, text: str, value: Expr | None, colon: bool) -> Callable[[Frame], list[ArgItem]]:
    if value is None:
        return lambda fr: [ArgItem("param", name=name, text=text, colon=colon)]
    return lambda fr: [ArgItem("param", name=name, text=text, value=value(fr), colon=True, has_value=True)]


# ------------------------------------------------------------------------------------------------
# Variables


_SCOPE_PREFIXES = ("global", "script", "local", "private", "using", "variable")


def _split_name(name: str) -> tuple[str | None, str]:
    if ":" in name:
        prefix, _, rest = name.partition(":")
        return prefix.lower(), rest
    return None, name


def _plain_variable_getter(rest: str, extent: Extent | None) -> Expr:
    """``$name`` without a scope or drive: the constants, ``$?``, else the name looked up through the scopes."""
    key = rest.lower()
    if key == "null":
        return lambda fr: None
    if key == "true":
        return lambda fr: True
    if key == "false":
        return lambda fr: False
    if key == "?":
        return lambda fr: fr.s.dollar_q

    def get(fr: Frame) -> Any:
        value = fr.scope.lookup(key)
        if value is _MISSING:
            return fr.s.missing_variable(fr, rest, extent)
        return value

    return get


def _variable_getter(name: str, extent: Extent | None = None) -> Expr:
    prefix, rest = _split_name(name)
    key = rest.lower()
    if prefix is None:
        return _plain_variable_getter(rest, extent)
    if prefix == "env":
        return lambda fr: fr.s.get_env(rest)
    if prefix in ("global", "script"):

        def get_global(fr: Frame) -> Any:
            value = fr.s.global_scope.vars.get(key, _MISSING)
            return fr.s.missing_variable(fr, rest, extent) if value is _MISSING else value

        return get_global
    if prefix in ("local", "private"):

        def get_local(fr: Frame) -> Any:
            value = fr.scope.vars.get(key, _MISSING)
            return fr.s.missing_variable(fr, rest, extent) if value is _MISSING else value

        return get_local
    if prefix == "variable":
        return _variable_getter(rest, extent)
    if prefix == "function":
        return lambda fr: fr.s.function_block(rest)
    raise_text = name

    def drive(fr: Frame) -> Any:
        raise runtime_error(
            f"The lab's PowerShell does not implement the variable drive '{raise_text}' yet.",
            "NotImplemented",
            "NotImplemented",
        )

    return drive


def _variable_setter(name: str) -> Callable[[Frame, Any], None]:
    prefix, rest = _split_name(name)
    key = rest.lower()
    if prefix == "env":
        return lambda fr, value: fr.s.set_env(rest, value)
    if prefix in ("global", "script"):
        return lambda fr, value: fr.s.set_variable(fr.s.global_scope, key, value)
    if prefix == "variable":
        return _variable_setter(rest)
    if key in ("null", "true", "false"):
        if key == "null":
            return lambda fr, value: None

        def refuse(fr: Frame, value: Any) -> None:
            raise runtime_error(
                f"Cannot overwrite variable {rest} because it is read-only or constant.",
                "VariableNotWritable",
                "WriteError",
                exception_type="System.Management.Automation.SessionStateUnauthorizedAccessException",
            )

        return refuse
    return lambda fr, value: fr.s.set_variable(fr.scope, key, value)


# ------------------------------------------------------------------------------------------------
# Operators


def _add(fr: Frame, left: Any, right: Any) -> Any:
    if left is None:
        if isinstance(right, list):
            return list(right)
        return right
    if isinstance(left, str):
        return left + fr.s.to_string(right)
    if isinstance(left, list):
        return [*left, *right] if isinstance(right, list) else [*left, right]
    if isinstance(left, Hashtable):
        if not isinstance(right, Hashtable):
            raise runtime_error("A hash table can only be added to another hash table.", "AddHashTableToNonHashTable")
        result = type(left)(left)
        for key, value in right.items():
            if key in result:
                raise runtime_error(
                    f"Item has already been added. Key in dictionary: '{key}'  Key being added: '{key}'",
                    "ArgumentException",
                    exception_type="System.ArgumentException",
                )
            result[key] = value
        return result
    import datetime as _dt

    if isinstance(left, _dt.datetime) and isinstance(right, _dt.timedelta):
        return left + right
    if isinstance(left, _dt.timedelta) and isinstance(right, _dt.timedelta):
        return left + right
    return _numeric(left, right, lambda a, b: a + b, "op_Addition")


def _subtract(fr: Frame, left: Any, right: Any) -> Any:
    import datetime as _dt

    if isinstance(left, _dt.datetime) and isinstance(right, _dt.datetime | _dt.timedelta):
        return left - right
    if isinstance(left, _dt.timedelta) and isinstance(right, _dt.timedelta):
        return left - right
    return _numeric(left, right, lambda a, b: a - b, "op_Subtraction")


def _multiply(fr: Frame, left: Any, right: Any) -> Any:
    if isinstance(left, str):
        return left * int(cv.to_number(right))
    if isinstance(left, list):
        return left * int(cv.to_number(right))
    return _numeric(left, right, lambda a, b: a * b, "op_Multiply")


def _divide(fr: Frame, left: Any, right: Any) -> Any:
    a, b = cv.to_number(left), cv.to_number(right)
    if b == 0:
        raise runtime_error(
            "Attempted to divide by zero.",
            "RuntimeException",
            "NotSpecified",
            exception_type="System.DivideByZeroException",
            bases=("System.ArithmeticException", "System.SystemException", "System.Exception"),
        )
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(a) / Decimal(b)
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b
    return a / b


def _modulo(fr: Frame, left: Any, right: Any) -> Any:
    a, b = cv.to_number(left), cv.to_number(right)
    if b == 0:
        raise runtime_error(
            "Attempted to divide by zero.",
            "RuntimeException",
            "NotSpecified",
            exception_type="System.DivideByZeroException",
        )
    result = abs(a) % abs(b)  # type: ignore[operator]
    return -result if a < 0 else result


def _numeric(left: Any, right: Any, op: Callable[[Any, Any], Any], name: str) -> Any:
    if isinstance(left, list | Hashtable | PSCustomObject | NetObject) or isinstance(right, list):
        raise runtime_error(
            f"Method invocation failed because [{cv.type_name_of(left)}] does not contain a method named '{name}'.",
            "MethodNotFound",
        )
    a, b = cv.to_number(left), cv.to_number(right)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return op(Decimal(a), Decimal(b))
    result = op(a, b)
    if isinstance(result, int):
        # Int32 arithmetic that overflows gives a Double, and so does Int64's (about_Arithmetic_Operators).
        wide = (
            isinstance(a, Long)
            or isinstance(b, Long)
            or not (cv.INT32_MIN <= a <= cv.INT32_MAX and cv.INT32_MIN <= b <= cv.INT32_MAX)
        )
        if not wide and not cv.INT32_MIN <= result <= cv.INT32_MAX:
            return float(result)
        if not -(2**63) <= result < 2**63:
            return float(result)
        return Long(result) if wide else result
    return result


def _bitwise(op: Callable[[int, int], int]) -> Callable[[Frame, Any, Any], Any]:
    return lambda fr, a, b: op(int(cv.to_number(a)), int(cv.to_number(b)))


_BINARY: dict[str, Callable[[Frame, Any, Any], Any]] = {
    "+": _add,
    "-": _subtract,
    "*": _multiply,
    "/": _divide,
    "%": _modulo,
    "-band": _bitwise(lambda a, b: a & b),
    "-bor": _bitwise(lambda a, b: a | b),
    "-bxor": _bitwise(lambda a, b: a ^ b),
    "-shl": _bitwise(lambda a, b: a << b),
    "-shr": _bitwise(lambda a, b: a >> b),
}


def _cmp_filter(test: Callable[[Any, Any, bool], bool]) -> Callable[[Frame, Any, Any, bool], Any]:
    """A comparison operator: on an array left operand it returns the matching elements."""

    def run(fr: Frame, left: Any, right: Any, case: bool) -> Any:
        if isinstance(left, list):
            return [item for item in left if test(item, right, case)]
        return test(left, right, case)

    return run


def _like(item: Any, pattern: Any, case: bool) -> bool:
    return cv.like_pattern(cv.to_string(pattern), case).match(cv.to_string(item)) is not None


def _contains(collection: Any, item: Any, case: bool) -> bool:
    return any(cv.equals(element, item, case) for element in cv.as_list(collection))


def _match(fr: Frame, left: Any, right: Any, case: bool) -> Any:
    regex = cv.convert_regex(fr.s.to_string(right), case)
    if isinstance(left, list):
        return [item for item in left if regex.search(fr.s.to_string(item))]
    found = regex.search(fr.s.to_string(left))
    if found:
        fr.scope.vars["matches"] = _match_table(found)
        return True
    return False


def _notmatch(fr: Frame, left: Any, right: Any, case: bool) -> Any:
    regex = cv.convert_regex(fr.s.to_string(right), case)
    if isinstance(left, list):
        return [item for item in left if not regex.search(fr.s.to_string(item))]
    found = regex.search(fr.s.to_string(left))
    if found:
        fr.scope.vars["matches"] = _match_table(found)
    return found is None


_SUBSTITUTION = re.compile(r"\$(?:(\d+)|\{([^}]*)\}|(\$)|(&))")


def _replace(fr: Frame, left: Any, right: Any, case: bool) -> Any:
    args = cv.as_list(right)
    pattern = fr.s.to_string(args[0]) if args else ""
    replacement = fr.s.to_string(args[1]) if len(args) > 1 else ""
    if len(args) > 2:
        raise runtime_error("The -replace operator allows only two elements to follow it, not 3.", "BadReplaceArgument")
    regex = cv.convert_regex(pattern, case)

    def substitute(match: re.Match[str]) -> str:
        def group(sub: re.Match[str]) -> str:
            number, name, dollar, whole = sub.groups()
            if dollar:
                return "$"
            if whole:
                return match.group(0)
            key: int | str = int(number) if number else (int(name) if name.isdigit() else name)
            try:
                return match.group(key) or ""
            except (IndexError, error_type):
                return sub.group(0)

        return _SUBSTITUTION.sub(group, replacement)

    error_type = re.error

    def one(value: Any) -> str:
        return regex.sub(substitute, fr.s.to_string(value))

    if isinstance(left, list):
        return [one(item) for item in left]
    return one(left)


def _split(fr: Frame, left: Any, right: Any, case: bool) -> Any:
    args = cv.as_list(right)
    pattern = fr.s.to_string(args[0]) if args else " "
    limit = int(cv.to_number(args[1])) if len(args) > 1 else 0
    regex = cv.convert_regex(pattern, case)
    result: list[str] = []
    for item in cv.as_list(left):
        parts = regex.split(fr.s.to_string(item), maxsplit=max(limit - 1, 0)) if limit != 1 else [fr.s.to_string(item)]
        if regex.groups:
            parts = [p for p in parts if p is not None]
        result.extend(parts)
    return result


def _join(fr: Frame, left: Any, right: Any, case: bool) -> Any:
    return fr.s.to_string(right).join(fr.s.to_string(v) for v in cv.as_list(left))


def _compare_op(test: Callable[[int], bool]) -> Callable[[Any, Any, bool], bool]:
    def run(left: Any, right: Any, case: bool) -> bool:
        return test(cv.compare(left, right, case))

    return run


_COMPARE_FUNCS: dict[str, Callable[[Frame, Any, Any, bool], Any]] = {
    "eq": _cmp_filter(cv.equals),
    "ne": _cmp_filter(lambda a, b, c: not cv.equals(a, b, c)),
    "gt": _cmp_filter(_compare_op(lambda r: r > 0)),
    "ge": _cmp_filter(_compare_op(lambda r: r >= 0)),
    "lt": _cmp_filter(_compare_op(lambda r: r < 0)),
    "le": _cmp_filter(_compare_op(lambda r: r <= 0)),
    "like": _cmp_filter(_like),
    "notlike": _cmp_filter(lambda a, b, c: not _like(a, b, c)),
    "match": _match,
    "notmatch": _notmatch,
    "contains": lambda fr, a, b, c: _contains(a, b, c),
    "notcontains": lambda fr, a, b, c: not _contains(a, b, c),
    "in": lambda fr, a, b, c: _contains(b, a, c),
    "notin": lambda fr, a, b, c: not _contains(b, a, c),
    "replace": _replace,
    "split": _split,
    "join": _join,
}


# ------------------------------------------------------------------------------------------------
# Pipelines


def _pipeline_runner(stages: list[CommandNode | Expr], extent: Extent) -> Stmt:
    last = len(stages) - 1

    def run(fr: Frame, out: list[Any]) -> None:
        session = fr.s
        session.dollar_q = True
        data: list[Any] | None = None
        for index, stage in enumerate(stages):
            target: list[Any] = out if index == last else []
            if isinstance(stage, CommandNode):
                session.run_command(fr, stage, data, target)
            else:
                value = stage(fr)
                if isinstance(value, list):
                    target.extend(value)
                elif isinstance(value, cv.Enumerable):
                    target.extend(value.ps_items())
                else:
                    target.append(value)
            if index != last:
                data = target

    return run
