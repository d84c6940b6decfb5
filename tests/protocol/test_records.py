"""The read side of the record protocol (DESIGN 4.1) and CLIXML stderr (winrm-protocol.md 5)."""

from __future__ import annotations

import json

import pytest

from provisioner.protocol.records import RECORD_PREFIX, decode_clixml, parse_output


def record(**fields: object) -> str:
    """One record line as Write-ProvisionRecord writes it (ConvertTo-Json -Compress)."""
    body = {"id": "x", "ok": True, "changed": False, "reboot_required": False, "data": None, "error": None}
    body.update(fields)
    return RECORD_PREFIX + json.dumps(body, separators=(",", ":"))


FACTS = record(id="facts", data={"os": {"caption": "Microsoft Windows Server 2022 Datacenter", "build": 20348}})
FEATURE = record(id="feature/Containers", changed=True, reboot_required=True, data={"before": "Disabled"})
FAILED = record(
    id="engine/docker",
    ok=False,
    error={
        "message": "SHA-256 mismatch for https://x: expected a, got b",
        "category": "OperationStopped",
        "exception": "System.Management.Automation.RuntimeException",
    },
)
SKIPPED = record(
    id="daemon/config",
    ok=False,
    skipped="required block engine/docker did not succeed",
    error={
        "message": "required block engine/docker did not succeed",
        "category": "NotSpecified",
        "exception": "System.InvalidOperationException",
    },
)


def test_records_in_order_with_their_fields() -> None:
    out = parse_output(f"{FACTS}\n{FEATURE}\n{FAILED}\n{SKIPPED}\n")
    assert list(out.records) == ["facts", "feature/Containers", "engine/docker", "daemon/config"]
    assert out.logs == [] and out.problems == []
    assert out.records["facts"].data["os"]["build"] == 20348
    feature = out.records["feature/Containers"]
    assert (feature.ok, feature.changed, feature.reboot_required) == (True, True, True)
    failed = out.records["engine/docker"]
    assert not failed.ok and failed.message.startswith("SHA-256 mismatch")
    assert failed.error is not None and failed.error["category"] == "OperationStopped"
    skipped = out.records["daemon/config"]
    assert not skipped.ok and skipped.skipped == "required block engine/docker did not succeed"


def test_crlf_line_ends() -> None:
    out = parse_output(f"log one\r\n{FACTS}\r\nlog two\r\n{FEATURE}\r\n")
    assert list(out.records) == ["facts", "feature/Containers"]
    assert out.logs == ["log one", "log two"]
    assert all("\r" not in line for line in out.logs)
    assert out.records["feature/Containers"].data == {"before": "Disabled"}


@pytest.mark.parametrize(
    "stdout",
    [
        "\ufeff" + FACTS + "\r\n",
        "\ufeff\ufeff" + FACTS + "\n",
        "warming up\r\n\ufeff" + FACTS + "\r\n",  # a BOM at the start of a later write
    ],
)
def test_byte_order_marks_are_ignored(stdout: str) -> None:
    out = parse_output(stdout)
    assert list(out.records) == ["facts"] and out.problems == []
    assert all("\ufeff" not in line for line in out.logs)


def test_interleaved_log_lines_are_logs_not_records() -> None:
    stdout = "\r\n".join(
        [  # noqa: FLY002 (one line per log line reads better)
            'VERBOSE: Performing the operation "Enable" on target "Containers".',
            FEATURE,
            "",
            "   ",
            "WARNING: You must restart this server to finish the installation process.",
            "Success Restart Needed Exit Code      Feature Result",
            "------- -------------- ---------      --------------",
            "True    Yes            SuccessRest... {Containers}",
            FACTS,
            "provision @@provision not at the start",
        ]
    )
    out = parse_output(stdout)
    assert list(out.records) == ["feature/Containers", "facts"]
    assert len(out.logs) == 6  # blank and whitespace-only lines are dropped
    assert out.logs[0].startswith("VERBOSE:") and out.logs[-1].startswith("provision @@provision")
    assert out.problems == []


@pytest.mark.parametrize(
    "line, reason",
    [
        (RECORD_PREFIX + '{"id":"x","ok":tru', "truncated JSON"),
        (RECORD_PREFIX + "", "prefix and nothing else"),
        (RECORD_PREFIX + '["x", true]', "JSON that is not an object"),
        (RECORD_PREFIX + '{"ok":true}', "no id"),
        (RECORD_PREFIX + '{"id":7,"ok":true}', "id is not text"),
        (RECORD_PREFIX + '{"id":"x"}', "no ok"),
        (RECORD_PREFIX + '{"id":"x","ok":"true"}', "ok is text, not a boolean"),
        (RECORD_PREFIX + "{'id':'x','ok':true}", "single-quoted pseudo-JSON"),
    ],
)
def test_malformed_record_lines_are_problems_not_records(line: str, reason: str) -> None:
    out = parse_output(f"{FACTS}\r\n{line}\r\n{FEATURE}\r\n")
    assert list(out.records) == ["facts", "feature/Containers"], reason
    assert len(out.problems) == 1, reason
    assert out.problems[0].startswith("unreadable record (") and line[:40] in out.problems[0]
    assert out.logs == []


def test_a_block_with_no_record_is_simply_absent() -> None:
    """The controller treats a missing record as "script ended early" (DESIGN 4.1)."""
    out = parse_output(FACTS + "\r\nAt line:12 char:5\r\n+ throw 'boom'\r\n")
    assert "feature/Containers" not in out.records
    assert out.logs == ["At line:12 char:5", "+ throw 'boom'"]


def test_non_dict_error_is_dropped_and_defaults_apply() -> None:
    out = parse_output(RECORD_PREFIX + '{"id":"x","ok":false,"error":"text"}')
    rec = out.records["x"]
    assert rec.error is None and rec.changed is False and rec.reboot_required is False and rec.data is None
    assert rec.message == ""


def test_record_with_unicode_and_escaped_newlines_in_data() -> None:
    line = record(id="verify", data={"output": "Hello from Docker!\r\nnonce-\u00e9\u4e2d\ud83d\ude00"})
    out = parse_output("\ufeff" + line + "\r\n")
    assert out.records["verify"].data["output"] == "Hello from Docker!\r\nnonce-\u00e9\u4e2d\U0001f600"


def test_empty_output() -> None:
    out = parse_output("")
    assert out.records == {} and out.logs == [] and out.problems == []


# ---------------------------------------------------------------------------------------------
# CLIXML stderr, shaped as Windows PowerShell 5.1 sends it over WinRM (winrm-protocol.md 5;
# diyan/pywinrm winrm/tests/conftest.py): the "#< CLIXML" line, then one <Objs> document.

NS = 'xmlns="http://schemas.microsoft.com/powershell/2004/04"'
PROGRESS = (
    '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
    '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first '
    "use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>"
)
ERROR_LINES = (
    '<S S="Error">Write-Error "Error" : Error_x000D__x000A_</S>'
    '<S S="Error">    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException_x000D__x000A_</S>'
    '<S S="Error">    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException_x000D__x000A_</S>'
    '<S S="Error"> _x000D__x000A_</S>'
)


def objs(body: str) -> str:
    return f'<Objs Version="1.1.0.1" {NS}>{body}</Objs>'


def test_clixml_error_stream_with_progress_records() -> None:
    stderr = "#< CLIXML\r\n" + objs(PROGRESS + ERROR_LINES)
    text = decode_clixml(stderr)
    assert text.splitlines() == [
        'Write-Error "Error" : Error',
        "    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException",
        "    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException",
    ]
    assert "Preparing modules" not in text and "_x000D_" not in text and "<" not in text


def test_clixml_progress_only_is_empty() -> None:
    assert decode_clixml("#< CLIXML\r\n" + objs(PROGRESS + PROGRESS.replace('RefId="0"', 'RefId="1"'))) == ""


def test_clixml_warning_and_verbose_streams_are_kept() -> None:
    body = '<S S="warning">Restart needed_x000D__x000A_</S><S S="verbose">Done_x000A_</S>'
    assert decode_clixml("#< CLIXML\r\n" + objs(body)).splitlines() == ["Restart needed", "Done"]


def test_clixml_escapes_other_than_line_ends() -> None:
    """_xHHHH_ escapes any character XML cannot carry; _x005F_ is a literal underscore, so
    "_x005F_x000D_" stands for the text "_x000D_" (XmlConvert encoding)."""
    body = '<S S="Error">tab_x0009_here; literal _x005F_x000D_ stays; esc _x001B_[0m_x000A_</S>'
    assert decode_clixml("#< CLIXML\r\n" + objs(body)) == "tab\there; literal _x000D_ stays; esc \x1b[0m"


def test_clixml_xml_entities_are_decoded() -> None:
    body = "<S S=\"Error\">Cannot find path 'C:\\x' &amp; &lt;y&gt; because it does not exist._x000D__x000A_</S>"
    assert decode_clixml("#< CLIXML\r\n" + objs(body)) == "Cannot find path 'C:\\x' & <y> because it does not exist."


def test_clixml_in_several_documents_and_chunks() -> None:
    """Real Windows sends the header line as its own stream chunk; a long run may hold several documents."""
    first = "#< CLIXML\r\n" + objs(PROGRESS + '<S S="Error">first_x000D__x000A_</S>')
    second = "#< CLIXML\r\n" + objs('<S S="Error">second_x000D__x000A_</S>')
    assert decode_clixml(first + second).splitlines() == ["first", "second"]
    assert decode_clixml("\ufeff" + first).splitlines() == ["first"]
    assert decode_clixml("#< CLIXML\n" + objs('<S S="Error">lf only</S>')) == "lf only"


def test_clixml_unparseable_chunk_is_kept_as_text() -> None:
    text = decode_clixml('#< CLIXML\r\n<Objs Version="1.1.0.1" ' + NS + '><S S="Error">cut short')
    assert "cut short" in text


@pytest.mark.parametrize(
    "stderr",
    [
        "",
        "plain text error\r\n",
        "The command line is too long.\r\n",
        "  #< CLIXML not at the start",
    ],
)
def test_non_clixml_stderr_is_returned_unchanged(stderr: str) -> None:
    assert decode_clixml(stderr) == stderr
