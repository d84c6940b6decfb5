"""Output text helpers (issue 12 items 5 and 6): secrets masked, host text inert, XML well-formed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.report.events import EventLog
from provisioner.report.text import HIDDEN, Secrets, inert, xml_safe


def test_secrets_are_masked_as_they_are_and_in_their_quoted_forms() -> None:
    secrets = Secrets()
    password = "Pa's\"w\\rd-9"
    secrets.add(password)
    assert secrets.mask(f"x {password} y") == f"x {HIDDEN} y"
    assert secrets.mask(json.dumps(["a", password])) == f'["a", "{HIDDEN}"]'
    assert secrets.mask(repr([password])) == f"['{HIDDEN}']"
    assert secrets.mask_data({"k": [password, 1, None], password: True}) == {"k": [HIDDEN, 1, None], HIDDEN: True}


def test_short_values_are_not_masked_and_longer_secrets_win() -> None:
    secrets = Secrets()
    secrets.add("abc")
    secrets.add(None)
    assert secrets.mask("abc abcd") == "abc abcd"
    secrets.add("long-secret")
    secrets.add("secret")
    assert secrets.mask("a long-secret, a secret") == f"a {HIDDEN}, a {HIDDEN}"


def test_url_passwords_are_masked_without_any_secret_registered() -> None:
    secrets = Secrets()
    text = '{"http-proxy": "http://bob:pr0xy-pw@proxy.corp:3128", "no-proxy": "a@b.c,http://h:80/x@y"}'
    assert (
        secrets.mask(text)
        == '{"http-proxy": "http://bob:<hidden>@proxy.corp:3128", "no-proxy": "a@b.c,http://h:80/x@y"}'
    )


SECRET_TEXT = ['s3cr"et\\pw', "pässwörd-\u2028", 'pa\\"ss', "\U0001f511-key"]
JSON_LIKE = st.recursive(
    st.none()
    | st.integers()
    | st.text(alphabet=st.sampled_from('ab"\\@:/ä\u2028\U0001f511-'))
    | st.sampled_from(
        [f"x{s}y" for s in SECRET_TEXT]
        + [repr(s)[1:-1] for s in SECRET_TEXT]
        + [json.dumps(s)[1:-1] for s in SECRET_TEXT]
    ),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3) | st.sampled_from(SECRET_TEXT), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_LIKE)
def test_dumps_masks_exactly_what_masking_every_string_does(value: Any) -> None:
    """Secrets.dumps skips the walk when the text shows no secret; its output is always the walk's."""
    secrets = Secrets()
    for secret in SECRET_TEXT:
        secrets.add(secret)
    assert secrets.dumps(value) == json.dumps(secrets.mask_data(value), default=str)


def test_inert_escapes_terminal_controls_and_keeps_newlines_and_tabs() -> None:
    assert inert("a\x1b[2J\tb\nc\r\x9b\u202e\ud800") == "a\\x1b[2J\tb\nc\\x0d\\x9b\\u202e\\ud800"
    assert inert("caf\u00e9 \u2713") == "caf\u00e9 \u2713"


def test_xml_safe_text_always_parses() -> None:
    text = "".join(chr(c) for c in range(0x20)) + "\ud800\ufffe<&>\"'"
    element = ET.Element("failure", message=xml_safe(text))
    element.text = xml_safe(text)
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode"))
    for value in (parsed.get("message") or "", parsed.text or ""):
        assert "\\x01" in value and "\\x1f" in value and "\\ud800" in value and "\\ufffe" in value and "<&>" in value


def test_an_events_file_that_fills_up_stops_logging_and_keeps_the_first_error(tmp_path: Path) -> None:
    # The hosts whose progress it records must not fail because the log cannot be written.
    log = EventLog(tmp_path / "events.jsonl")
    log._out.close()
    log._out = open("/dev/full", "w", encoding="utf-8")  # noqa: SIM115 - closed by log.close()
    log.write("host.facts", host="h1", message="gathering facts")
    log.write("host.facts", host="h2", message="gathering facts")
    log.close()
    assert log.error is not None
    assert str(log.error) == f"--events {tmp_path / 'events.jsonl'}: cannot write: No space left on device"
