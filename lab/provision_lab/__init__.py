"""The lab: a simulated Windows fleet for a first run, for the tests, and for rehearsing rollouts.

What it is, honestly: a test double at the resource level.

- The protocols are real. Each host listens on its own loopback address (127.77.x.y) and speaks
  WS-Management over HTTP and HTTPS (Basic and NTLM with message encryption, through pyspnego as
  the acceptor, with a lab CA) and SSH (paramiko's server mode). The unmodified pywinrm and
  paramiko clients talk to it as they would to Windows; faults, quotas and timeouts are the real
  WS-Man faults (research/winrm-protocol.md).
- The PowerShell is parsed, not executed. Every script is parsed with tree-sitter-powershell and
  refused with a ParseError when it does not parse, as Windows would refuse it; then each block
  is executed from its begin marker (type, action, params) against a host model, and the ``$P``
  literal in the block is checked against the marker, so values prove they survive quoting.
- Windows behaviour is modelled from the cited research (research/windows-facts.md): feature
  states and reboots, the firmware-VT and nested-virtualization readings, the engine download
  and its SHA-256 check, dockerd's refusal of Linux-only daemon.json keys, and ``docker run``
  following Microsoft's build/isolation matrix with the real error texts. Where the research is
  unsure, the model fails the way the research says Windows fails: it is never more forgiving.

A green run against the lab proves the tool's protocol handling, its plans and its record
protocol; it does not prove that the rendered PowerShell does on Windows what its block claims.
That is what the parse check, the cmdlet catalog, the golden files and the opt-in real-Windows
tests (``pytest -m windows``) are for.
"""
