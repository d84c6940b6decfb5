"""The commands rendered scripts may run, with the parameters each accepts (DESIGN 5, point 2).

Target: Windows PowerShell 5.1. Every entry cites the Microsoft Learn page it was taken from; for
cmdlets whose page has a version picker the 5.1 view is the one that counts (parameters added in
PowerShell 6/7, such as Join-Path -AdditionalChildPath, Split-Path -LeafBase, Set-Service -Force or
ConvertTo-Json -AsArray, are deliberately absent). Parameter names were checked against the
reference pages in MicrosoftDocs/PowerShell-Docs (reference/5.1/...) and
MicrosoftDocs/windows-powershell-docs (dism, servermanager); an entry lists only parameters on
that page, and may leave some out (the catalog is allowed to be stricter than PowerShell).

Parameter names are matched case-insensitively and in full: the scripts do not rely on
PowerShell's unambiguous-prefix matching.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LEARN = "https://learn.microsoft.com/powershell/module/"
V51 = "?view=powershell-5.1"

COMMON_PARAMETERS_URL = LEARN + "microsoft.powershell.core/about/about_commonparameters" + V51
COMMON_PARAMETERS: frozenset[str] = frozenset(
    {
        "Debug",
        "ErrorAction",
        "ErrorVariable",
        "InformationAction",
        "InformationVariable",
        "OutBuffer",
        "OutVariable",
        "PipelineVariable",
        "Verbose",
        "WarningAction",
        "WarningVariable",
    }
)
"""Accepted by every cmdlet and every advanced function (about_CommonParameters, 5.1)."""


@dataclass(frozen=True)
class Command:
    name: str
    url: str
    parameters: frozenset[str]
    common: bool = True
    """Whether the common parameters apply (cmdlets and advanced functions; not simple functions)."""


def _cmd(name: str, url: str, parameters: str, *, common: bool = True) -> Command:
    return Command(name, url, frozenset(parameters.split()), common)


_MGMT = LEARN + "microsoft.powershell.management/"
_UTIL = LEARN + "microsoft.powershell.utility/"
_CORE = LEARN + "microsoft.powershell.core/"

CMDLETS: tuple[Command, ...] = (
    # CimCmdlets
    _cmd(
        "Get-CimInstance",
        LEARN + "cimcmdlets/get-ciminstance" + V51,
        "ClassName Namespace Filter Property KeyOnly Shallow Query QueryDialect ComputerName CimSession "
        "InputObject ResourceUri OperationTimeoutSec",
    ),
    _cmd(
        "Invoke-CimMethod",
        LEARN + "cimcmdlets/invoke-cimmethod" + V51,
        "ClassName CimClass InputObject Query QueryDialect ResourceUri Namespace MethodName Arguments ComputerName "
        "CimSession OperationTimeoutSec WhatIf Confirm",
    ),
    # Microsoft.PowerShell.LocalAccounts (Windows PowerShell 5.1 on Windows 10 1607 and later): docker-users.
    _cmd("Get-LocalGroup", LEARN + "microsoft.powershell.localaccounts/get-localgroup" + V51, "Name SID"),
    _cmd(
        "Get-LocalGroupMember",
        LEARN + "microsoft.powershell.localaccounts/get-localgroupmember" + V51,
        "Group Name SID Member",
    ),
    _cmd(
        "Add-LocalGroupMember",
        LEARN + "microsoft.powershell.localaccounts/add-localgroupmember" + V51,
        "Group Name SID Member WhatIf Confirm",
    ),
    # ServerManager (Windows Server only) [PS-SM]
    _cmd(
        "Install-WindowsFeature",
        LEARN + "servermanager/install-windowsfeature",
        "Name Restart IncludeAllSubFeature IncludeManagementTools Source ComputerName Credential LogPath Vhd "
        "ConfigurationFilePath WhatIf Confirm",
    ),
    # Dism [PS-DISM]
    _cmd(
        "Enable-WindowsOptionalFeature",
        LEARN + "dism/enable-windowsoptionalfeature",
        "FeatureName PackageName All LimitAccess Source NoRestart Online Path WindowsDirectory SystemDrive "
        "LogPath ScratchDirectory LogLevel",
    ),
    _cmd(
        "Get-WindowsOptionalFeature",
        LEARN + "dism/get-windowsoptionalfeature",
        "FeatureName PackageName PackagePath Online Path WindowsDirectory SystemDrive LogPath ScratchDirectory "
        "LogLevel",
    ),
    # Microsoft.PowerShell.Utility
    _cmd(
        "Invoke-WebRequest",
        _UTIL + "invoke-webrequest" + V51,
        "Uri OutFile UseBasicParsing Method Headers Body ContentType InFile TimeoutSec MaximumRedirection "
        "Proxy ProxyCredential ProxyUseDefaultCredentials Credential UseDefaultCredentials UserAgent "
        "DisableKeepAlive WebSession SessionVariable Certificate CertificateThumbprint TransferEncoding PassThru",
    ),
    _cmd("Get-FileHash", _UTIL + "get-filehash" + V51, "Path LiteralPath InputStream Algorithm"),
    _cmd("ConvertTo-Json", _UTIL + "convertto-json" + V51, "InputObject Depth Compress"),
    _cmd("ConvertFrom-Json", _UTIL + "convertfrom-json" + V51, "InputObject"),
    _cmd("Out-String", _UTIL + "out-string" + V51, "InputObject Stream Width"),
    _cmd("New-Object", _UTIL + "new-object" + V51, "TypeName ArgumentList Property ComObject Strict"),
    _cmd("Start-Sleep", _UTIL + "start-sleep" + V51, "Seconds Milliseconds"),
    # Microsoft.PowerShell.Archive
    _cmd(
        "Expand-Archive",
        LEARN + "microsoft.powershell.archive/expand-archive" + V51,
        "Path LiteralPath DestinationPath Force WhatIf Confirm",
    ),
    # Microsoft.PowerShell.Management: services
    _cmd(
        "Get-Service",
        _MGMT + "get-service" + V51,
        "Name DisplayName Include Exclude InputObject DependentServices RequiredServices ComputerName",
    ),
    _cmd(
        "Start-Service",
        _MGMT + "start-service" + V51,
        "Name DisplayName Include Exclude InputObject PassThru WhatIf Confirm",
    ),
    _cmd(
        "Stop-Service",
        _MGMT + "stop-service" + V51,
        "Name DisplayName Include Exclude InputObject Force NoWait PassThru WhatIf Confirm",
    ),
    _cmd(
        "Restart-Service",
        _MGMT + "restart-service" + V51,
        "Name DisplayName Include Exclude InputObject Force PassThru WhatIf Confirm",
    ),
    _cmd(
        "Set-Service",
        _MGMT + "set-service" + V51,
        "Name DisplayName Description StartupType Status InputObject ComputerName PassThru WhatIf Confirm",
    ),
    _cmd(
        "Restart-Computer",
        _MGMT + "restart-computer" + V51,
        "ComputerName Credential Force Wait Timeout For Delay Protocol WsmanAuthentication DcomAuthentication "
        "Impersonation AsJob ThrottleLimit WhatIf Confirm",
    ),
    # Microsoft.PowerShell.Management: items and paths
    _cmd(
        "Test-Path",
        _MGMT + "test-path" + V51,
        "Path LiteralPath Filter Include Exclude PathType IsValid Credential OlderThan NewerThan UseTransaction",
    ),
    _cmd("Join-Path", _MGMT + "join-path" + V51, "Path ChildPath Resolve Credential UseTransaction"),
    _cmd(
        "Split-Path",
        _MGMT + "split-path" + V51,
        "Path LiteralPath Parent Leaf Qualifier NoQualifier IsAbsolute Resolve Credential UseTransaction",
    ),
    _cmd(
        "Get-Item",
        _MGMT + "get-item" + V51,
        "Path LiteralPath Filter Include Exclude Force Credential Stream UseTransaction",
    ),
    _cmd(
        "Get-ItemProperty",
        _MGMT + "get-itemproperty" + V51,
        "Path LiteralPath Name Filter Include Exclude Credential UseTransaction",
    ),
    # -Type is the Registry provider's dynamic parameter (a RegistryValueKind name: String, ExpandString, ...),
    # learn.microsoft.com about_Registry_Provider (5.1), "Type <Microsoft.Win32.RegistryValueKind>".
    _cmd(
        "Set-ItemProperty",
        _MGMT + "set-itemproperty" + V51,
        "Path LiteralPath Name Value Type PassThru Force Filter Include Exclude InputObject Credential UseTransaction "
        "WhatIf Confirm",
    ),
    _cmd(
        "New-Item", _MGMT + "new-item" + V51, "Path Name ItemType Value Force Credential UseTransaction WhatIf Confirm"
    ),
    _cmd(
        "Copy-Item",
        _MGMT + "copy-item" + V51,
        "Path LiteralPath Destination Container Force Filter Include Exclude Recurse PassThru Credential "
        "ToSession FromSession UseTransaction WhatIf Confirm",
    ),
    _cmd(
        "Move-Item",
        _MGMT + "move-item" + V51,
        "Path LiteralPath Destination Force Filter Include Exclude PassThru Credential UseTransaction WhatIf Confirm",
    ),
    _cmd(
        "Rename-Item",
        _MGMT + "rename-item" + V51,
        "Path LiteralPath NewName Force PassThru Credential UseTransaction WhatIf Confirm",
    ),
    _cmd(
        "Remove-Item",
        _MGMT + "remove-item" + V51,
        "Path LiteralPath Filter Include Exclude Recurse Force Credential Stream UseTransaction WhatIf Confirm",
    ),
    # Microsoft.PowerShell.Core
    _cmd("Out-Null", _CORE + "out-null" + V51, "InputObject"),
    _cmd(
        "Get-Command",
        _CORE + "get-command" + V51,
        "Name Verb Noun Module FullyQualifiedModule CommandType TotalCount Syntax ShowCommandInfo ArgumentList All "
        "ListImported ParameterName ParameterType",
    ),
    _cmd(
        "ForEach-Object",
        _CORE + "foreach-object" + V51,
        "Process Begin End RemainingScripts InputObject MemberName ArgumentList WhatIf Confirm",
    ),
    _cmd("Set-StrictMode", _CORE + "set-strictmode" + V51, "Version Off"),
    _cmd(
        "Where-Object",
        _CORE + "where-object" + V51,
        "FilterScript InputObject Property Value EQ CEQ NE CNE GT CGT LT CLT GE CGE LE CLE Like CLike NotLike "
        "CNotLike Match CMatch NotMatch CNotMatch Contains CContains NotContains CNotContains In CIn NotIn CNotIn "
        "Is IsNot",
    ),
    # Microsoft.PowerShell.Diagnostics
    _cmd(
        "Get-WinEvent",
        LEARN + "microsoft.powershell.diagnostics/get-winevent" + V51,
        "ListLog LogName ListProvider ProviderName Path MaxEvents ComputerName Credential FilterXPath Force Oldest "
        "FilterHashtable FilterXml",
    ),
    # Microsoft.PowerShell.Management: processes
    _cmd(
        "Get-Process",
        _MGMT + "get-process" + V51,
        "Name Id InputObject IncludeUserName ComputerName Module FileVersionInfo",
    ),
    _cmd("Wait-Process", _MGMT + "wait-process" + V51, "Name Id InputObject Timeout"),
)

PRELUDE_URL = "provisioner/templates/prelude.ps1.j2"
FUNCTIONS: tuple[Command, ...] = (
    # Our own functions, defined in the prelude; test_catalog checks these against its param blocks.
    # Write-ProvisionRecord has a [Parameter()] attribute, which makes it an advanced function.
    _cmd("Write-ProvisionRecord", PRELUDE_URL, "Id Ok Changed RebootRequired Data ErrorRecord Skipped"),
    _cmd("Test-ProvisionSkip", PRELUDE_URL, "Id Requires", common=False),
    _cmd("Get-ProvisionProxy", PRELUDE_URL, "Proxy", common=False),
    _cmd("Add-ProvisionMachinePath", PRELUDE_URL, "Folder", common=False),
)

CATALOG: dict[str, Command] = {c.name.lower(): c for c in CMDLETS + FUNCTIONS}


@dataclass(frozen=True)
class Native:
    """A native program run through `& $variable ...`, with the flags the scripts may pass it bare."""

    variable: str
    program: str
    url: str
    flags: frozenset[str] = field(default_factory=frozenset)


NATIVE_VIA_VARIABLE: dict[str, Native] = {
    "$dockerd": Native(
        "$dockerd",
        "dockerd.exe",
        "https://docs.docker.com/reference/cli/dockerd/",
        frozenset({"--version", "--register-service", "--service-name", "--validate", "--config-file"}),
    ),
    # containerd's binaries (research/containerd-scaleout-history.md section 1.4; the code of
    # cmd/containerd/command/main.go, service_windows.go and config.go at the tags the lab serves).
    "$containerdExe": Native(
        "$containerdExe",
        "containerd.exe",
        "https://github.com/containerd/containerd/blob/main/cmd/containerd/command/service_windows.go",
        frozenset({"--version", "--register-service", "--unregister-service", "--service-name", "--config"}),
    ),
    "$toolExe": Native(
        "$toolExe",
        "crictl.exe or nerdctl.exe",
        "https://github.com/containerd/nerdctl/blob/main/docs/command-reference.md",
        frozenset({"--version"}),
    ),
    "$crictl": Native(
        "$crictl",
        "crictl.exe",
        "https://github.com/kubernetes-sigs/cri-tools/blob/master/docs/crictl.md",
        frozenset({"--version", "--runtime-endpoint"}),
    ),
    # tar.exe is bsdtar (Windows 10 1803 / Server 2019 and later): extract a file into a folder.
    "$tar": Native(
        "$tar",
        "tar.exe",
        "https://learn.microsoft.com/windows-server/administration/windows-commands/tar",
    ),
    # ctr.exe, like docker.exe, gets all of its arguments from one array variable ($arguments).
    "$ctr": Native("$ctr", "ctr.exe", "https://github.com/containerd/containerd/blob/main/docs/getting-started.md"),
    # docker.exe gets all of its arguments from one array variable ($arguments), built from literals.
    "$docker": Native("$docker", "docker.exe", "https://docs.docker.com/reference/cli/docker/container/run/"),
    "$shutdown": Native(
        "$shutdown",
        "shutdown.exe",
        "https://learn.microsoft.com/windows-server/administration/windows-commands/shutdown",
        frozenset({"/r", "/t", "/d", "/c"}),
    ),
}
