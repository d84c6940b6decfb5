"""Programs Windows ships: ``hostname.exe``, ``cmd.exe /c``, ``whoami.exe``, ``tar.exe`` (bsdtar),
``msiexec.exe``, ``shutdown.exe /r`` and ``wsl.exe`` (the inbox launcher, and the WSL package's).

Each models the calls the lab has a use for and fails plainly on anything else, with the program's
own text where it is known (the lab's rule: nothing unmodelled succeeds).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Sequence

from provision_lab.powershell.api import Host, NativeResult
from provision_lab.windows import programs
from provision_lab.windows.natives.files import WSL_RELEASES, identify
from provision_lab.windows.natives.machine import NativeMachine

__all__ = ["Cmd", "Hostname", "Msiexec", "Shutdown", "Tar", "Whoami", "Wsl", "WSL_EXE"]

WSL_EXE = r"C:\Program Files\WSL\wsl.exe"
"""Where the WSL package puts wsl.exe (the System32 alias fails outside interactive sessions [microsoft/WSL#9231])."""


class Hostname:
    """``hostname.exe``: the computer's name; with an argument it refuses to set it (its own text)."""

    def __init__(self, path: str, machine: NativeMachine) -> None:
        self.path = path
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        if len(argv) > 1:
            return NativeResult(1, "", "sethostname: Use the Network Control Panel Applet to set hostname.\r\n")
        return NativeResult(0, host.computer_name + "\r\n")


class Whoami:
    """``whoami.exe``: ``domain\\user`` in lower case; its switches are not modelled and fail."""

    def __init__(self, path: str) -> None:
        self.path = path

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        if len(argv) > 1:
            return NativeResult(
                1, "", f"ERROR: Invalid argument/option - '{argv[1]}'.\r\nType \"WHOAMI /?\" for usage.\r\n"
            )
        return NativeResult(0, host.user_name.lower() + "\r\n")


class Cmd:
    """``cmd.exe /c <command>``: ``echo``, ``ver`` and ``exit /b N``; any other command is cmd's
    "is not recognized" (exit 1)."""

    def __init__(self, path: str, machine: NativeMachine) -> None:
        self.path = path
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        args = list(argv[1:])
        if not args or args[0].lower() not in ("/c", "/k"):
            # An interactive cmd.exe would wait for input: a remote session gets its banner and EOF.
            return NativeResult(0, f"Microsoft Windows [Version 10.0.{self.machine.os_build}.1]\r\n")
        words = args[1:]
        if not words:
            return NativeResult(0)
        verb = words[0].lower()
        if verb == "echo":
            text = " ".join(words[1:])
            return NativeResult(0, (text if text else "ECHO is on.") + "\r\n")
        if verb == "ver":
            return NativeResult(0, f"\r\nMicrosoft Windows [Version 10.0.{self.machine.os_build}.1]\r\n")
        if verb == "exit":
            rest = [w for w in words[1:] if w.lower() != "/b"]
            try:
                return NativeResult(int(rest[0]) if rest else 0)
            except ValueError:
                return NativeResult(0)
        return NativeResult(
            1,
            "",
            f"'{words[0]}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
        )


class Tar:
    """``tar.exe``, bsdtar from libarchive (Windows 10 1803+ and Server 2019+): ``--version``,
    ``-x``/``-t`` with ``-f FILE`` (zip or gzip'd tar, told by content as bsdtar does) and ``-C DIR``."""

    def __init__(self, path: str, version: str, machine: NativeMachine) -> None:
        self.path = path
        self.version = version
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        args = list(argv[1:])
        if args == ["--version"]:
            return NativeResult(0, f"bsdtar {self.version} - libarchive {self.version} zlib/1.2.5.f-ipp \r\n")
        options = _tar_options(args, host.current_directory)
        if isinstance(options, NativeResult):
            return options
        mode, archive, target = options
        raw = self.machine.read_file(archive)
        if raw is None:
            return NativeResult(1, "", f"tar.exe: Error opening archive: Failed to open '{archive}'\r\n")
        try:
            members = _members(raw)
        except (zipfile.BadZipFile, tarfile.TarError):
            return NativeResult(1, "", "tar.exe: Error opening archive: Unrecognized archive format\r\n")
        host.sleep(0.5 + len(raw) / 50_000_000)
        if mode == "t":
            return NativeResult(0, "".join(name + "\r\n" for name, _ in members))
        for name, data in members:
            if data is not None:
                self.machine.write_file(target.rstrip("\\/") + "\\" + name.replace("/", "\\"), data)
        return NativeResult(0)


def _tar_options(args: list[str], cwd: str) -> tuple[str, str, str] | NativeResult:
    """(mode x or t, the archive, the target folder) from tar's arguments (bundled letters as in
    ``-xzf`` or a first word without a dash), or the usage error bsdtar prints."""
    mode: str | None = None
    archive: str | None = None
    target = cwd
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-C":
            i += 1
            if i >= len(args):
                return _tar_usage("Option -C requires an argument")
            target = args[i]
        elif arg.startswith("-") or i == 0:
            for letter in arg.lstrip("-"):
                if letter in "xt":
                    mode = letter
                elif letter == "f":
                    i += 1
                    if i >= len(args):
                        return _tar_usage("Option -f requires an argument")
                    archive = args[i]
                elif letter not in "vzp":
                    return _tar_usage(f"Option -{letter} is not supported")
        else:
            return _tar_usage(f"Unexpected argument {arg}")
        i += 1
    if mode is None or archive is None:
        return _tar_usage("Must specify one of -c, -r, -t, -u, -x")
    return mode, archive, target


def _members(raw: bytes) -> list[tuple[str, bytes | None]]:
    """(name, bytes or None for a folder) of a zip or tar(.gz) archive."""
    if raw.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return [(info.filename, None if info.is_dir() else archive.read(info)) for info in archive.infolist()]
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        found: list[tuple[str, bytes | None]] = []
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isfile() else None
            found.append((member.name, handle.read() if handle is not None else None))
        return found


def _tar_usage(problem: str) -> NativeResult:
    return NativeResult(
        1,
        "",
        f"tar.exe: {problem}\r\nUsage:\r\n  List:    tar.exe -tf <archive-filename>\r\n"
        "  Extract: tar.exe -xf <archive-filename>\r\n  Create:  tar.exe -cf <archive-filename> [filenames...]\r\n"
        "  Help:    tar.exe --help\r\n",
    )


class Msiexec:
    """``msiexec.exe /i PACKAGE [/qn] [/norestart] [/l*v LOG]``. Exit codes are Windows Installer's
    (learn.microsoft.com "MsiExec.exe and InstMsi.exe error messages"): 1619 the package cannot be
    opened, 1620 not a valid package, 1639 an invalid command line, 1603 a fatal error, which is the
    lab's reading of a per-machine package run silently without elevation (UNCONFIRMED: with no UI
    there is no UAC prompt to answer)."""

    def __init__(self, path: str, machine: NativeMachine) -> None:
        self.path = path
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        args = list(argv[1:])
        package: str | None = None
        i = 0
        while i < len(args):
            option = args[i].lower().replace("-", "/", 1)
            if option in ("/i", "/package"):
                i += 1
                if i >= len(args):
                    return NativeResult(1639)
                package = args[i]
            elif option.startswith("/l"):
                i += 1  # the log file's name
            elif option not in ("/qn", "/quiet", "/norestart", "/passive", "/qb", "/q"):
                return NativeResult(1639)
            i += 1
        if package is None:
            return NativeResult(1639)
        raw = self.machine.read_file(package)
        if raw is None:
            return NativeResult(1619)
        identity = identify(raw)
        if identity is None or identity[0] != "wsl-msi":
            return NativeResult(1620)
        if not host.elevated:
            return NativeResult(1603)
        # The WSL package installs in well under a minute (the lab's figure), more on a slow host.
        host.sleep(40.0 * self.machine.install_time_factor)
        # The package installs wsl.exe under Program Files\WSL with its version as file version.
        self.machine.write_file(WSL_EXE, programs.image("wsl-package", identity[1]))
        return NativeResult(0)


class Shutdown:
    """``shutdown.exe /r [/t xxx] [/d [p|u:]xx:yy] [/c "comment"] [/f]``, as its reference gives it
    (learn.microsoft.com, windows-commands/shutdown): /t is 0-315360000 seconds, 30 when left out, and
    above 0 implies /f; /c is at most 512 characters; the signed-in users see the comment and the
    countdown before the restart. Not elevated: "Access is denied.(5)"; a malformed line: "The
    parameter is incorrect.(87)" (both texts UNCONFIRMED), anything else (/s, /l, /a, /m ...) is not
    modelled and fails the same way.

    Each warning is kept in ``native_state["shutdown.exe"]`` (who saw it, the countdown, the comment);
    the countdown passes on the machine's modelled clock, so the restart then begins at once (the
    lab's reboots are short too)."""

    def __init__(self, path: str, machine: NativeMachine) -> None:
        self.path = path
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        invalid = NativeResult(87, "", f"{argv[0]}: The parameter is incorrect.(87)\r\n")
        restart, seconds, comment = False, 30, ""
        args = list(argv[1:])
        i = 0
        while i < len(args):
            option = args[i].lower().replace("-", "/", 1)
            value = args[i + 1] if i + 1 < len(args) else None
            if option == "/r":
                restart = True
            elif option == "/f":
                pass
            elif option == "/t" and value is not None and value.isdigit() and int(value) <= 315360000:
                seconds, i = int(value), i + 1
            elif option == "/c" and value is not None and len(value) <= 512:
                comment, i = value, i + 1
            elif option == "/d" and value is not None:
                i += 1
            else:
                return invalid
            i += 1
        if not restart:
            return invalid
        if not host.elevated:
            return NativeResult(5, "", f"{host.computer_name}: Access is denied.(5)\r\n")
        notices = self.machine.native_state.setdefault("shutdown.exe", [])
        notices.append({"users": self.machine.interactive_users(), "seconds": seconds, "comment": comment})
        host.sleep(float(seconds))
        self.machine.restart()
        return NativeResult(0)


class Wsl:
    """``wsl.exe``: ``--version`` and ``--status`` of the WSL package; the inbox launcher of a
    system without the package knows neither. wsl.exe writes UTF-16LE to a pipe (microsoft/WSL
    issue #4607), so a console reading it as UTF-8 sees a NUL after every ASCII character; with
    ``WSL_UTF8=1`` it writes UTF-8 (WSL 0.64+, same issue)."""

    def __init__(self, path: str, version: str | None, machine: NativeMachine) -> None:
        self.path = path
        self.version = version
        """The package's version; None for the inbox launcher."""
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        args = list(argv[1:])
        utf8 = host.environment().get("WSL_UTF8") == "1"
        if self.version is None:
            # The inbox wsl.exe predates --version (microsoft/WSL#9231): "Invalid command line option"
            # is its wording (UNCONFIRMED), exit -1.
            return NativeResult(-1, _wsl_text(f"Invalid command line option: {' '.join(args)}\r\n", utf8))
        if args in (["--version"], ["-v"]):
            text = (
                f"WSL version: {self.version}\r\nKernel version: 5.15.153.1-2\r\n"
                f"Windows version: 10.0.{self.machine.os_build}.1\r\n"
            )
            return NativeResult(0, _wsl_text(text, utf8))
        if args == ["--update"]:
            newest = max(WSL_RELEASES, key=lambda v: tuple(int(p) for p in v.split(".")))
            if tuple(int(p) for p in self.version.split(".")[:3]) >= tuple(int(p) for p in newest.split(".")):
                return NativeResult(
                    0,
                    _wsl_text("The most recent version of Windows Subsystem for Linux is already installed.\r\n", utf8),
                )
            # The update downloads from GitHub or the Store, which the lab's catalog does not serve this way.
            return NativeResult(1, _wsl_text("The update could not be downloaded.\r\n", utf8))
        return NativeResult(-1, _wsl_text(f"Invalid command line option: {' '.join(args)}\r\n", utf8))


def _wsl_text(text: str, utf8: bool) -> str:
    return text if utf8 else "".join(char + "\x00" for char in text)
