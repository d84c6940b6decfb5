"""Ansible's host patterns, evaluated as ansible-core 2.19's InventoryManager evaluates them.

A pattern is split on ``,`` (or, when it has none and is no single address, on ``:`` outside
brackets, so ``fe80::1`` and ``web[0:2]`` stay whole). Terms are applied plain ones first, in the
order written, then ``&`` intersections, then ``!`` exclusions; the result keeps the order in
which terms added hosts, which decides the canary of ``serial: [1, ...]``. A plain term that is
a host name is that host (even when a group has the same name); otherwise it matches group
names (glob, or a regex after ``~``) and, when no group matched or it is a glob or regex, host
names. ``term[i]``, ``term[i:j]`` (inclusive), ``term[i:]`` and ``term[-1]`` pick from its matches.
``localhost`` (and 127.0.0.1, ::1) is Ansible's implicit local host when the inventory has none.

One deliberate difference from Ansible: a term that matches nothing is an error here, not a
warning, so a typo in ``--limit`` never widens or empties a run silently.
"""

from __future__ import annotations

import fnmatch
import re

from provisioner.errors import InputError, LoadError, closest
from provisioner.inventory.hostnames import is_address
from provisioner.inventory.model import Host, Inventory

__all__ = ["IMPLICIT_LOCALHOST", "select_hosts", "split_pattern"]

IMPLICIT_LOCALHOST = ("localhost", "127.0.0.1", "::1")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SPECIAL = (".", "?", "*", "[")


def split_pattern(pattern: str) -> list[str]:
    """The terms of a pattern (ansible-core's split_host_pattern)."""
    if "," in pattern:
        terms = pattern.split(",")
    elif _single_address(pattern):
        terms = [pattern]
    else:
        terms = _COLON_TERMS.findall(pattern)
    return [t.strip() for t in terms if t.strip()]


def _single_address(pattern: str) -> bool:
    text = pattern.strip()
    match = re.match(r"^\[(.+)\]:([0-9]+)$", text) or re.match(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$", text)
    return is_address(match.group(1) if match else text)


def _error(source: str, message: str, hint: str | None = None) -> InputError:
    return InputError([LoadError(None, None, None, (), f"{source}: {message}", hint)])


class _Matcher:
    def __init__(self, inventory: Inventory, source: str) -> None:
        self.inventory = inventory
        self.source = source

    def compile(self, expression: str) -> re.Pattern[str]:
        try:
            return re.compile(expression[1:] if expression.startswith("~") else fnmatch.translate(expression))
        except re.error as exc:
            raise _error(self.source, f"invalid pattern {expression[:60]!r}: {exc}") from None

    def enumerate(self, expression: str) -> list[str]:
        inventory = self.inventory
        regex = self.compile(expression)
        results: list[str] = []
        groups = [name for name in inventory.groups if regex.match(name)]
        for name in groups:
            results += inventory.members.get(name, [])
        if not groups or expression.startswith("~") or any(c in expression for c in _SPECIAL):
            results += [name for name, host in inventory.hosts.items() if regex.match(name) and not host.implicit]
        if not results and expression in IMPLICIT_LOCALHOST:
            results.append(implicit_localhost(inventory, expression))
        return results

    def term(self, term: str) -> list[str]:
        expression = term[1:] if term[0] in "&!" else term
        subscript: tuple[int, int | None] | None = None
        if not expression.startswith("~"):
            match = _SUBSCRIPT.match(expression)
            if match:
                expression, index, start, separator, end = match.groups()
                if separator == "-":
                    raise _error(
                        self.source,
                        f"{term!r}: use an inclusive [x:y] subscript; Ansible removed [x-y] (it matches nothing)",
                    )
                subscript = (int(index), None) if index is not None else (int(start), int(end) if end else -1)
        hosts = list(dict.fromkeys(self.enumerate(expression)))
        if not hosts or subscript is None:
            return hosts
        first, last = subscript
        try:
            if last:
                return hosts[first : (len(hosts) - 1 if last == -1 else last) + 1]
            return [hosts[first]]
        except IndexError:
            raise _error(self.source, f"{term!r}: the subscript is beyond the {len(hosts)} hosts matched") from None


def implicit_localhost(inventory: Inventory, name: str) -> str:
    """Ansible's implicit local host (connection local), made once when a pattern names it."""
    if name not in inventory.hosts:
        inventory.hosts[name] = Host(
            name,
            groups=["all"],
            vars={**inventory.groups["all"].vars, "ansible_connection": "local"},
            origins=dict(inventory.groups["all"].origins),
            implicit=True,
        )
    return name


def select_hosts(inventory: Inventory, pattern: str, *, source: str = "pattern") -> list[str]:
    """Host names matching an Ansible pattern, in Ansible's order.

    A term that matches nothing raises InputError naming the term and the closest host or group;
    so does a pattern that leaves no host.
    """
    terms = split_pattern(pattern)
    if not terms:
        raise _error(source, "empty host pattern")
    plain = [t for t in terms if t[0] not in "&!"] or ["all"]
    ordered = plain + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]
    matcher = _Matcher(inventory, source)
    problems: list[LoadError] = []
    hosts: list[str] = []
    for term in ordered:
        if term in inventory.hosts and not inventory.hosts[term].implicit:
            matched = [term]
        else:
            matched = matcher.term(term)
        if not matched:
            name = term.lstrip("&!")
            guess = closest(name, [*inventory.hosts, *inventory.groups])
            problems.append(
                LoadError(
                    None,
                    None,
                    None,
                    (),
                    f"{source}: '{name}' matches no host or group in {inventory.file}",
                    f"did you mean '{guess}'?" if guess else None,
                )
            )
            continue
        if term[0] == "!":
            excluded = set(matched)
            hosts = [h for h in hosts if h not in excluded]
        elif term[0] == "&":
            kept = set(matched)
            hosts = [h for h in hosts if h in kept]
        else:
            present = set(hosts)
            for host in matched:
                if host not in present:
                    present.add(host)
                    hosts.append(host)
    if problems:
        raise InputError(problems)
    if not hosts:
        raise _error(source, f"'{pattern}' leaves no host")
    return hosts
