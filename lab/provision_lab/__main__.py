"""``python -m provision_lab``: the same as the ``provision-lab`` command."""

from provision_lab.cli import main

__all__: list[str] = []

main()
