"""Encryption at rest and blind indexes for protected customer data.

Ciphertexts are ``<key id>:<base64(nonce | AES-GCM ciphertext)>``; the key id lets old values be
read after a rotation (``flask records rotate-key``). The associated data binds a ciphertext to
its column, so a value copied into another column does not decrypt.

Exact-match search uses an HMAC-SHA256 of the normalised value under a *separate* key, so the
index reveals nothing without that key and searching never decrypts rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import warnings
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app


class KeyringError(RuntimeError):
    """A ciphertext names a key that is not configured, or a key is malformed."""


def _decode_key(value: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise KeyringError(f"{name} is not valid base64") from exc
    if len(raw) != 32:
        raise KeyringError(f"{name} must decode to 32 bytes, not {len(raw)}")
    return raw


def _derive(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"estateflow-records:{purpose}:{secret}".encode()).digest()


@dataclass
class Keyring:
    """The current encryption key, older keys still readable, and the blind-index key."""

    current_id: str
    keys: dict[str, bytes]
    index_key: bytes
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    def _cipher(self, key_id: str) -> AESGCM:
        if key_id not in self._ciphers:
            if key_id not in self.keys:
                raise KeyringError(f"no encryption key with id {key_id!r} is configured")
            self._ciphers[key_id] = AESGCM(self.keys[key_id])
        return self._ciphers[key_id]

    def encrypt(self, plaintext: str, column: str) -> str:
        nonce = os.urandom(12)
        sealed = self._cipher(self.current_id).encrypt(nonce, plaintext.encode(), column.encode())
        return f"{self.current_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, column: str) -> str:
        key_id, _, body = token.partition(":")
        raw = base64.b64decode(body)
        return self._cipher(key_id).decrypt(raw[:12], raw[12:], column.encode()).decode()

    @staticmethod
    def key_id_of(token: str) -> str:
        return token.partition(":")[0]

    def blind_index(self, kind: str, normalised: str) -> str:
        """A keyed hash of ``normalised`` for exact-match search (``kind`` separates fields)."""
        message = f"{kind}\x00{normalised}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()


def _parse_previous(value: str | dict[str, str] | None) -> dict[str, bytes]:
    """``RECORDS_PREVIOUS_KEYS``: a mapping or ``"k1:<base64>,k0:<base64>"``."""
    if not value:
        return {}
    items = value.items() if isinstance(value, dict) else (
        part.split(":", 1) for part in value.split(",") if part.strip())
    return {key_id.strip(): _decode_key(key.strip(), f"previous key {key_id}")
            for key_id, key in items}


def build_keyring(config: dict[str, object]) -> Keyring:
    """Read the keys from config; outside production derive defaults from ``SECRET_KEY``."""
    secret = str(config.get("SECRET_KEY", ""))
    production = config.get("ENV_NAME") == "production"
    key_b64 = config.get("RECORDS_ENCRYPTION_KEY") or os.environ.get("RECORDS_ENCRYPTION_KEY")
    index_b64 = config.get("RECORDS_INDEX_KEY") or os.environ.get("RECORDS_INDEX_KEY")
    key_id = str(config.get("RECORDS_ENCRYPTION_KEY_ID")
                 or os.environ.get("RECORDS_ENCRYPTION_KEY_ID") or "k1")
    if not key_b64 or not index_b64:
        if production:
            raise KeyringError("RECORDS_ENCRYPTION_KEY and RECORDS_INDEX_KEY must be set in "
                            "production")
        if not config.get("TESTING"):
            warnings.warn("records keys derived from SECRET_KEY; set RECORDS_ENCRYPTION_KEY "
                          "and RECORDS_INDEX_KEY", RuntimeWarning, stacklevel=2)
    key = _decode_key(str(key_b64), "RECORDS_ENCRYPTION_KEY") if key_b64 else _derive(
        secret, "encryption")
    index_key = _decode_key(str(index_b64), "RECORDS_INDEX_KEY") if index_b64 else _derive(
        secret, "blind-index")
    previous = config.get("RECORDS_PREVIOUS_KEYS") or os.environ.get("RECORDS_PREVIOUS_KEYS")
    keys = _parse_previous(previous)  # type: ignore[arg-type]
    keys[key_id] = key
    return Keyring(current_id=key_id, keys=keys, index_key=index_key)


def keyring() -> Keyring:
    """The application's keyring, built once per app."""
    ring = current_app.extensions.get("records_keyring")
    if ring is None:
        ring = build_keyring(dict(current_app.config))
        current_app.extensions["records_keyring"] = ring
    return ring  # type: ignore[no-any-return]


def reset_keyring() -> None:
    """Forget the cached keyring (after the configuration changed, e.g. in tests)."""
    current_app.extensions.pop("records_keyring", None)
