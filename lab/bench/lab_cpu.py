"""The lab interpreter's CPU for a repeated facts script (issue 10 item 9: under 5 ms).

Run: ``python lab/bench/lab_cpu.py [repetitions]``. Prints the median process CPU of one powershell.exe run of the
golden facts script (tests/fixtures/golden/server2022/facts.ps1, under the controller's stdin bootstrap):
against a host with no machine (the interpreter alone; its blocks fail at the first machine cmdlet) and against a
lab machine (provision_lab.profiles' server2022, interpreter and machine together), plus the first, compiling run.
"""

from __future__ import annotations

import base64
import pathlib
import statistics
import sys
import time

from provision_lab.powershell import run_powershell_exe
from provision_lab.powershell.engine import compile_script

ROOT = pathlib.Path(__file__).resolve().parents[2]
FACTS = ROOT / "tests" / "fixtures" / "golden" / "server2022" / "facts.ps1"
BOOTSTRAP = (
    "$ErrorActionPreference = 'Stop'; "
    "$stdin = New-Object System.IO.StreamReader ([Console]::OpenStandardInput()), "
    "(New-Object System.Text.UTF8Encoding $false); "
    "$script = $stdin.ReadToEnd(); "
    "& ([ScriptBlock]::Create($script))"
)
COMMAND = "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64.b64encode(
    BOOTSTRAP.encode("utf-16-le")
).decode("ascii")


def _median_ms(run: object, repetitions: int) -> float:
    samples = []
    for _ in range(repetitions):
        start = time.process_time()
        run()  # type: ignore[operator]
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    script = FACTS.read_text(encoding="utf-8")
    lines = script.count("\n")
    sys.path.insert(0, str(ROOT / "lab" / "tests" / "powershell"))
    from stub import StubHost  # noqa: PLC0415  (the tests' bare host)

    compile_script.cache_clear()
    start = time.process_time()
    run_powershell_exe(COMMAND, script, StubHost())
    first = (time.process_time() - start) * 1000
    bare = _median_ms(lambda: run_powershell_exe(COMMAND, script, StubHost()), repetitions)
    print(f"facts script: {lines} lines, {len(script)} characters, {repetitions} repetitions")
    print(f"first run (parse + compile + run), bare host: {first:.2f} ms CPU")
    print(f"interpreter, bare host (median):              {bare:.2f} ms CPU per script")
    try:
        from provision_lab.profiles import make_host
    except ImportError:
        return
    host = make_host("server2022", "bench1", "127.77.250.1")
    result = host.run_command(COMMAND, script)
    assert result.exit_code == 0 and '"ok":true' in result.stdout, result
    machine = _median_ms(lambda: host.run_command(COMMAND, script), repetitions)
    print(f"interpreter + machine, server2022 (median):   {machine:.2f} ms CPU per host")


if __name__ == "__main__":
    main()
