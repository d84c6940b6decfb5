"""The floor client: what a drift check costs with nothing but prebuilt envelopes (issue 18, item 5).

perf-measured.md section 2 (b): per host, the 5 WS-Man messages of a check (Create, Command, Send
of the FACTS script, Receive until Done, Delete), prebuilt once as strings with only the MessageID,
ShellId and CommandId filled in, over one ``http.client`` keep-alive connection per host, answers
read with regular expressions. Basic uses a precomputed header; NTLM logs on each connection with
pyspnego and seals every message, which no client can skip. No error mapping, retries, planning or
reports: a floor, not a product. It checks per host that the exit code is 0 and that stdout carries
the facts record, and exits 1 if any host failed.

    python bench/floor.py --addresses hosts.txt --port 45985 --auth basic --script facts.ps1 --forks 100
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import struct
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioner.protocol.bootstrap import POWERSHELL_COMMAND, stdin_for  # noqa: E402 (a constant module: no pywinrm)

NS = (
    'xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"'
)
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"


def head(action: str, selector: bool) -> str:
    sel = '<w:SelectorSet><w:Selector Name="ShellId">{shell}</w:Selector></w:SelectorSet>' if selector else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<env:Envelope {NS}><env:Header>'
        "<a:To>http://windows-host:5985/wsman</a:To><w:MaxEnvelopeSize>153600</w:MaxEnvelopeSize>"
        "<a:MessageID>uuid:{mid}</a:MessageID><w:OperationTimeout>PT20S</w:OperationTimeout>"
        f"<w:ResourceURI>{SHELL}/cmd</w:ResourceURI><a:Action>{action}</a:Action>{sel}"
    )


def templates(script: bytes) -> dict[str, str]:
    # stdin as the tool sends it: the (empty) secrets line the bootstrap reads first, then the script.
    data = base64.b64encode(stdin_for(script.decode("utf-8"))).decode()
    return {
        "create": head("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", False)
        + '<w:OptionSet><w:Option Name="WINRS_CODEPAGE">65001</w:Option></w:OptionSet></env:Header><env:Body>'
        "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
        "</rsp:Shell></env:Body></env:Envelope>",
        "command": head(f"{SHELL}/Command", True)
        + '<w:OptionSet><w:Option Name="WINRS_CONSOLEMODE_STDIN">FALSE</w:Option></w:OptionSet></env:Header>'
        f"<env:Body><rsp:CommandLine><rsp:Command>{POWERSHELL_COMMAND}</rsp:Command></rsp:CommandLine>"
        "</env:Body></env:Envelope>",
        "send": head(f"{SHELL}/Send", True)
        + '</env:Header><env:Body><rsp:Send><rsp:Stream Name="stdin" CommandId="{command}" End="true">'
        + data
        + "</rsp:Stream></rsp:Send></env:Body></env:Envelope>",
        "receive": head(f"{SHELL}/Receive", True)
        + '</env:Header><env:Body><rsp:Receive><rsp:DesiredStream CommandId="{command}">stdout stderr'
        "</rsp:DesiredStream></rsp:Receive></env:Body></env:Envelope>",
        "delete": head("http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete", True)
        + "</env:Header><env:Body></env:Body></env:Envelope>",
    }


SHELL_ID = re.compile(rb'Name="ShellId">([^<]+)<')
COMMAND_ID = re.compile(rb"CommandId>([^<]+)<")
STDOUT = re.compile(rb'Name="stdout"[^>]*>([^<]+)<')
EXIT = re.compile(rb"ExitCode>(\d+)<")
ENCRYPTED = 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"'
BOUNDARY = b"--Encrypted Boundary\r\n"
OCTET = b"\tContent-Type: application/octet-stream\r\n"


class Host:
    def __init__(self, address: str, port: int, auth: str, user: str, password: str) -> None:
        self.conn = http.client.HTTPConnection(address, port, timeout=60)
        self.headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
        self.context = None
        if auth == "basic":
            self.headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        else:
            import spnego

            context = spnego.client(user, password, protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
            self.post_raw(b"", {"Authorization": "Negotiate " + base64.b64encode(context.step() or b"").decode()})
            challenge = self.last.getheader("WWW-Authenticate", "").split(" ", 1)[1]
            token = context.step(base64.b64decode(challenge)) or b""
            self.post_raw(b"", {"Authorization": "Negotiate " + base64.b64encode(token).decode()})
            self.context = context
            self.headers = {"Content-Type": ENCRYPTED}

    def post_raw(self, body: bytes, headers: dict[str, str]) -> bytes:
        self.conn.request("POST", "/wsman", body, headers)
        self.last = self.conn.getresponse()
        return self.last.read()

    def post(self, envelope: str) -> bytes:
        body = envelope.encode()
        if self.context is None:
            return self.post_raw(body, self.headers)
        sealed = self.context.wrap(body).data
        meta = (
            "\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
            f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(body)}\r\n"
        )
        answer = self.post_raw(
            BOUNDARY
            + meta.encode()
            + BOUNDARY
            + OCTET
            + struct.pack("<I", 16)
            + sealed
            + b"--Encrypted Boundary--\r\n",
            self.headers,
        )
        payload = answer.split(BOUNDARY)[2][len(OCTET) : -len(b"--Encrypted Boundary--\r\n")]
        return self.context.unwrap(payload[4:]).data


def check(address: str, args: argparse.Namespace, envelopes: dict[str, str], password: str) -> bool:
    host = Host(address, args.port, args.auth, args.user, password)
    shell = SHELL_ID.search(host.post(envelopes["create"].format(mid=uuid.uuid4()))).group(1).decode()  # type: ignore[union-attr]
    answer = host.post(envelopes["command"].format(mid=uuid.uuid4(), shell=shell))
    command = COMMAND_ID.search(answer).group(1).decode()  # type: ignore[union-attr]
    host.post(envelopes["send"].format(mid=uuid.uuid4(), shell=shell, command=command))
    out = b""
    while True:
        answer = host.post(envelopes["receive"].format(mid=uuid.uuid4(), shell=shell, command=command))
        out += b"".join(base64.b64decode(chunk) for chunk in STDOUT.findall(answer))
        code = EXIT.search(answer)
        if code is not None:
            break
    host.post(envelopes["delete"].format(mid=uuid.uuid4(), shell=shell))
    host.conn.close()
    return code.group(1) == b"0" and b"@@provision" in out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addresses", type=Path, required=True, help="one host address a line")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--auth", choices=["basic", "ntlm"], required=True)
    parser.add_argument("--user", default="provision")
    parser.add_argument("--password-env", default="PROVISION_LAB_PASSWORD")
    parser.add_argument("--script", type=Path, required=True, help="the FACTS script (provision render --phase facts)")
    parser.add_argument("--forks", type=int, default=100)
    args = parser.parse_args()
    password = os.environ[args.password_env]
    envelopes = templates(args.script.read_bytes())
    addresses = args.addresses.read_text().split()
    with ThreadPoolExecutor(args.forks) as pool:
        results = list(pool.map(lambda a: check(a, args, envelopes, password), addresses))
    failed = results.count(False)
    if failed:
        raise SystemExit(f"floor: {failed} of {len(results)} hosts did not return the facts record")


if __name__ == "__main__":
    main()
