"""The controller <-> host contract (DESIGN 4.1), in one place that both sides of it read.

- ``markers``: the begin and end marker lines that frame each block of a script;
- ``records``: the ``@@provision`` record a block writes on stdout, its parser, and the decoder
  of the CLIXML that Windows PowerShell writes on stderr;
- ``bootstrap``: the powershell.exe command line every script runs under, and its bootstrap;
- ``blocks``: the base of every block's params, and the params of the blocks that are not
  resources (facts, reboot, diagnostics).

It imports nothing else of the product, so the renderer, the transports, the engine and the
doctor all build on it, and none of them defines any part of the contract.
"""
