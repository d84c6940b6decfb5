"""Host keys as Ansible reads them: ``host:port``, ``[ipv6]:port``, and ranges ``[01:20]``, ``[a:c]``, ``[1:9:2]``.

The rules follow ansible-core's ``parse_address`` and ``expand_hostname_range`` (checked against
ansible-core 2.19 by tests/inventory/test_differential.py): a ``:NN`` suffix is a port only when
what is left is a valid host name or IPv4 address (an IPv6 address needs brackets for a port);
a key that is no valid address is taken whole; ranges expand left to right, a zero-padded begin
pads every number to its width, and an alphabetic range runs over ``a-zA-Z``.
"""

from __future__ import annotations

import ipaddress
import re
import string

__all__ = ["HostKeyError", "expand_host_key", "is_address"]

MAX_EXPANSION = 1_000_000
"""Hosts one key may expand to: ``h[0:99999999]`` is a typo, not a fleet."""

_RANGE = r"\[(?:[0-9]+:[0-9]+|[a-zA-Z]:[a-zA-Z])(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.UNICODE)
_BRACKETED = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_RANGE_IN_ADDRESS = re.compile(r"\[[0-9a-fA-F]+:[0-9a-fA-F]+(?::[0-9]+)?\]")


class HostKeyError(ValueError):
    """A host key with a malformed range (the message says which rule it breaks)."""


def is_address(text: str) -> bool:
    """Whether ``text`` is a host name, IPv4 or IPv6 address; ranges count as one component."""
    if _HOSTNAME.match(text):
        return True
    probe = _RANGE_IN_ADDRESS.sub("0", text)
    try:
        ipaddress.ip_address(probe)
    except ValueError:
        return False
    return True


def _split_port(key: str) -> tuple[str, int | None]:
    host, port = key, None
    for pattern in (_BRACKETED, _HOSTPORT):
        match = pattern.match(host)
        if match:
            host, port = match.group(1), int(match.group(2))
    if not is_address(host):
        return key, None  # Ansible then takes the whole key as the name, colon and all
    return host, port


def _expand(name: str, budget: list[int]) -> list[str]:
    if "[" not in name:
        return [name]
    head, _, rest = name.partition("[")
    inner, closed, tail = rest.partition("]")
    if not closed:
        raise HostKeyError("a host range needs a closing ']'")
    bounds = inner.split(":")
    if len(bounds) not in (2, 3):
        raise HostKeyError("a host range must be [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise HostKeyError("a host range must give its end")
    try:
        step = int(step_text)
    except ValueError:
        raise HostKeyError(f"a host range step must be a number, got {step_text[:20]!r}") from None
    if step < 1:
        raise HostKeyError("a host range step must be 1 or more")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and width != len(end):
        raise HostKeyError("a zero-padded host range needs begin and end of the same width")
    letters = string.ascii_letters
    items: list[str]
    if begin in letters and end in letters and len(begin) == 1 and len(end) == 1:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise HostKeyError("a host range must have begin <= end")
        items = list(letters[first : last + 1 : step])
    else:
        try:
            low, high = int(begin), int(end)
        except ValueError:
            raise HostKeyError(f"a host range must be numbers or single letters, got [{inner[:40]}]") from None
        count = max(0, (high - low) // step + 1)
        budget[0] -= count
        if budget[0] < 0:
            raise HostKeyError(f"a host range expands to more than {MAX_EXPANSION:,} hosts")
        items = [str(n).zfill(width) for n in range(low, high + 1, step)]
    found: list[str] = []
    for item in items:
        found += _expand(f"{head}{item}{tail}", budget)
    return found


def expand_host_key(key: str) -> tuple[list[str], int | None]:
    """The host names a key stands for and the port it gives them (None when it gives none)."""
    host, port = _split_port(key)
    if "[" not in host:
        return [host], port
    return _expand(host, [MAX_EXPANSION]), port
