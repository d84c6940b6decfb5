"""Text a host sends back is data, whatever it holds (issue 12 items 4 and 6; review F5, F7):
records survive any character, the console shows no terminal control sequence raw, and junit.xml
stays well-formed XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from .conftest import PASSWORD, MakeFleet

DAEMON_JSON = r"C:\ProgramData\docker\config\daemon.json"
LINE_BREAKERS = ["u2028=a\u2028b", "u2029=a\u2029b", "u0085=a\u0085b", "nul=a\x00b", "all=\u2028\u2029\u0085\x00\r\n"]
"""The characters ``str.splitlines`` splits at but JSON writers leave raw (F5), NUL, and CR/LF."""


def test_daemon_json_values_with_line_separators_and_nul_converge_and_stay_converged(make_fleet: MakeFleet) -> None:
    # F5: one U+2028 in a daemon.json value used to be written, after which every FACTS script of the
    # host failed ("block facts wrote no record"): the host could not be managed until hand-edited.
    fleet = make_fleet(1, "server2022-converged")
    playbook = fleet.playbook(spec={"daemon": {"labels": LINE_BREAKERS, "log-opts": {"k\u2028ey": "v\u2029al"}}})

    first = fleet.cli("apply", playbook)
    assert first.code == 0, first.out + first.err
    assert first.statuses() == {"lab-0001": "changed"}

    # What the host holds is exactly what the spec says, character for character.
    written = json.loads(fleet.host("lab-0001").snapshot()["files"][DAEMON_JSON]["content"])
    assert written["labels"] == LINE_BREAKERS
    assert written["log-opts"] == {"k\u2028ey": "v\u2029al"}

    # And it reads back: the host is in state, not failed and not drifting.
    for command in ("check", "apply"):
        again = fleet.cli(command, playbook)
        assert again.code == 0, again.out + again.err
        assert again.statuses() == {"lab-0001": "ok"}
        facts = again.report["hosts"][0]["facts"]
        assert json.loads(facts["files"][DAEMON_JSON]["content"])["labels"] == LINE_BREAKERS


ESCAPES = "\x1b[2J\x1b]0;pwned-title\x07\x1b[31mRED\x1b[0m\r\x9b1A\x01\x0b\u202e"
"""Clear the screen, set the window title (OSC ... BEL), colour, CR (rewrites the shown line), an
8-bit CSI, XML-invalid C0 and a right-to-left override."""


def test_host_text_reaches_the_console_inert_and_junit_well_formed(make_fleet: MakeFleet) -> None:
    # F7: an admin's (or an attacker's) daemon.json value came back to the terminal raw, and a host
    # message with C0 characters made junit.xml not well-formed.
    fleet = make_fleet(2, "server2022-converged")
    playbook = fleet.playbook(spec={"daemon": {"log-level": "warn"}})
    fleet.host("lab-0001").set_daemon_key("log-level", json.dumps(ESCAPES))
    fleet.host("lab-0002").set_daemon_key("labels", json.dumps([ESCAPES]))

    for output in ("plain", "rich"):
        run = fleet.cli("check", playbook, "--output", output, junit=True, events=True)
        assert run.code == 2, run.out + run.err
        shown = run.out + run.err
        for char in "\x1b\x07\r\x9b\x01\x0b\u202e":
            assert char not in shown, (output, repr(char))
        if output == "plain":
            assert "daemon.log-level: \\x1b[2J\\x1b]0;pwned-title\\x07" in run.out

        suite = ET.parse(run.files["junit"]).getroot()  # raises on a document that is not well-formed
        failures = {
            case.get("classname"): case.find("failure") for case in suite.iter("testcase") if case.get("name") == "host"
        }
        assert set(failures) == {"lab-0001", "lab-0002"}
        details = " ".join(f.text or "" for f in suite.iter("failure"))
        assert "pwned-title" in details  # what the host sent is still there to read, escaped
        # report.json and the events keep the exact text: JSON escapes it.
        diffs = [d for h in run.report["hosts"] for r in h["resources"] for d in r["diff"]]
        assert {"path": "daemon.log-level", "before": ESCAPES, "after": "warn"} in diffs
        assert all(line.endswith("}") for line in run.files["events"].read_text(encoding="utf-8").split("\n")[:-1])


def test_a_daemon_json_over_64_kib_converges_and_then_checks_ok(make_fleet: MakeFleet) -> None:
    # F13: a 70 KB label gave "did not converge: daemon/config still differ after being applied",
    # and check reported drift forever: FACTS sends no content past 64 KiB.
    fleet = make_fleet(1, "server2022-converged")
    labels = [f"provision.big{i}={'x' * 1000}" for i in range(70)]
    playbook = fleet.playbook(spec={"daemon": {"labels": labels, "log-level": "warn"}})

    first = fleet.cli("apply", playbook)
    assert first.code == 0, first.out + first.err
    assert first.statuses() == {"lab-0001": "changed"}
    written = fleet.host("lab-0001").snapshot()["files"][DAEMON_JSON]["content"]
    assert len(written.encode()) > 65536 and json.loads(written)["labels"] == labels

    again = fleet.cli("check", playbook)
    assert again.code == 0, again.out + again.err
    assert again.statuses() == {"lab-0001": "ok"}


def test_the_password_is_masked_in_every_output_when_a_host_sends_it_back(make_fleet: MakeFleet) -> None:
    # Issue 12 item 5: <hidden> covered only error paths named like passwords; here the secret comes
    # back as data (a daemon.json value someone put it in) and must not be shown, reported or logged.
    fleet = make_fleet(2, "server2022-converged")
    playbook = fleet.playbook(spec={"daemon": {"log-level": "warn"}})
    fleet.host("lab-0001").set_daemon_key("log-level", json.dumps(f"pw={PASSWORD}"))
    fleet.host("lab-0002").set_daemon_key("labels", json.dumps([f"a={PASSWORD}", "b"]))

    for output in ("plain", "json", "rich"):
        run = fleet.cli("check", playbook, "--output", output, events=True, junit=True)
        assert run.code == 2, run.out + run.err
        texts = {
            "stdout": run.out,
            "stderr": run.err,
            **{kind: path.read_text(encoding="utf-8") for kind, path in run.files.items()},
        }
        for where, text in texts.items():
            for form in (PASSWORD, json.dumps(PASSWORD)[1:-1], "Fl33t-xq7Zk"):
                assert form not in text, (output, where)
        diffs = {d["path"]: d["before"] for h in run.report["hosts"] for r in h["resources"] for d in r["diff"]}
        assert diffs["daemon.log-level"] == "pw=<hidden>"
        assert diffs["daemon.labels"] == ["a=<hidden>", "b"]
        if output == "plain":
            assert "daemon.log-level: pw=<hidden> -> warn" in run.out
