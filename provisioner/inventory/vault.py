"""ansible-vault decryption (format 1.1 and 1.2, AES256), for ``!vault`` values and vault files.

The envelope is ``$ANSIBLE_VAULT;1.1;AES256`` (1.2 adds ``;LABEL``, the vault id) followed by
hex lines. Unhexlified they hold three hex lines: salt, HMAC, ciphertext. The keys come from
PBKDF2-HMAC-SHA256 (10,000 iterations, 80 bytes: 32 for AES-256-CTR, 32 for the HMAC-SHA256 of
the ciphertext, 16 for the counter's initial value); the plaintext is PKCS#7 padded. Source:
Ansible's "Vault format" documentation,
https://docs.ansible.com/ansible/latest/vault_guide/vault_using_encrypted_content.html#format-of-files-encrypted-with-ansible-vault
(measured against ``ansible-vault encrypt_string`` in tests/inventory/test_vault.py).

The password comes from ``--vault-password-file``, ``--ask-vault-pass`` or the file named by
``ANSIBLE_VAULT_PASSWORD_FILE``, as in Ansible; it is read once, when a value is first needed.
"""

from __future__ import annotations

import binascii
import getpass
import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["HEADER", "Vault", "VaultError", "is_vault"]

HEADER = "$ANSIBLE_VAULT;"


class VaultError(Exception):
    """Why a vault value could not be decrypted (never contains the password or the plaintext)."""


def is_vault(text: str) -> bool:
    """Whether ``text`` (a value or a whole file) is an ansible-vault envelope."""
    return text.lstrip().startswith(HEADER)


class Vault:
    """Decrypts vault envelopes with one password, obtained on first use."""

    def __init__(self, password: Callable[[], str | None] | None = None, *, source: str | None = None) -> None:
        self._password = password
        self._secret: bytes | None = None
        self.source = source
        """Where the password comes from (for messages), or None when there is none."""

    @classmethod
    def from_options(cls, password_file: Path | None = None, ask: bool = False) -> Vault:
        """The vault of the command line options, else of ``ANSIBLE_VAULT_PASSWORD_FILE``."""
        if ask:
            return cls(lambda: getpass.getpass("Vault password: "), source="--ask-vault-pass")
        if password_file is None and os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE"):
            password_file = Path(os.environ["ANSIBLE_VAULT_PASSWORD_FILE"]).expanduser()
        if password_file is None:
            return cls()
        file = password_file

        def read() -> str:
            if os.access(file, os.X_OK) and file.is_file():
                # Ansible runs an executable password file as a client script; provision does not run code
                # from the inventory's side, and says so rather than reading the script as a password.
                raise VaultError(f"{file}: executable vault password scripts are not supported; use a plain file")
            try:
                return file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise VaultError(f"{file}: cannot read the vault password file: {exc.strerror}") from None

        return cls(read, source=str(file))

    def _key(self) -> bytes:
        if self._secret is None:
            found = self._password() if self._password else None
            if not found:
                raise VaultError(
                    "no vault password: pass --vault-password-file FILE or --ask-vault-pass, "
                    "or set ANSIBLE_VAULT_PASSWORD_FILE"
                )
            self._secret = found.encode("utf-8")
        return self._secret

    def decrypt(self, envelope: str) -> str:
        """The plaintext of one envelope; VaultError says what is wrong with it."""
        lines = envelope.strip().splitlines()
        header = lines[0].strip().split(";") if lines else []
        if len(header) < 3 or header[0] != "$ANSIBLE_VAULT" or header[1] not in ("1.1", "1.2"):
            raise VaultError("not an ansible-vault 1.1 or 1.2 envelope")
        if header[2].strip() != "AES256":
            raise VaultError(f"unsupported vault cipher {header[2][:20]!r} (only AES256)")
        try:
            body = binascii.unhexlify("".join(line.strip() for line in lines[1:]))
            salt_hex, mac_hex, data_hex = body.split(b"\n", 2)
            salt, mac, data = binascii.unhexlify(salt_hex), binascii.unhexlify(mac_hex), binascii.unhexlify(data_hex)
        except (ValueError, binascii.Error):
            raise VaultError("the vault envelope is damaged (not hex)") from None
        derived = hashlib.pbkdf2_hmac("sha256", self._key(), salt, 10000, dklen=80)
        cipher_key, mac_key, counter = derived[:32], derived[32:64], derived[64:80]
        if not hmac.compare_digest(hmac.new(mac_key, data, hashlib.sha256).digest(), mac):
            raise VaultError("the vault password is wrong (or the value was changed)")
        decryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(counter)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        pad = padded[-1] if padded else 0
        if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
            raise VaultError("the vault envelope is damaged (bad padding)")
        try:
            return padded[:-pad].decode("utf-8")
        except UnicodeDecodeError:
            raise VaultError("the decrypted value is not UTF-8 text") from None
