"""Personal data at rest: sealed with Fernet (``cryptography``), never stored in clear.

A help request's name, phone number, story and the notes and answers about it are stored
only as Fernet tokens (AES-128-CBC with an HMAC-SHA256 tag, a random IV each time, so
two requests from one phone number do not even look alike). The keys come from the
settings:

* ``LABOURKB_DATA_KEYS``: comma-separated Fernet keys (``labourkb help new-key`` prints
  one); the first seals, all of them open, so a key is rotated by putting a new one first
  and running ``labourkb help reseal``;
* unset: one key derived (HKDF-SHA256) from the site secret. Keep that secret outside
  the data directory (``LABOURKB_SECRET_KEY``) for the encryption to protect a copied
  data directory.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from search_api.errors import Unavailable

HKDF_INFO = b"labourkb help requests v1"


class SealError(Unavailable):
    """Sealed data that no configured key opens (a lost or wrong ``LABOURKB_DATA_KEYS``)."""


def derived_key(secret: bytes) -> bytes:
    """The Fernet key derived from the site secret."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret)
    return base64.urlsafe_b64encode(raw)


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


class Sealer:
    """Seal and open JSON values with the configured keys."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("at least one key")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError):
            raise ValueError(
                "LABOURKB_DATA_KEYS: each key must be 32 url-safe base64 bytes (labourkb help new-key)"
            ) from None

    @classmethod
    def from_settings(cls, data_keys: str, secret: bytes) -> Sealer:
        keys = [k.strip().encode("ascii") for k in data_keys.split(",") if k.strip()]
        return cls(keys or [derived_key(secret)])

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode("utf-8")).decode("ascii")

    def open(self, token: str | None) -> Any:
        if not token:
            return None
        try:
            return json.loads(self._fernet.decrypt(token.encode("ascii")))
        except InvalidToken:
            raise SealError("无法解密求助信息：加密密钥不对或已丢失（LABOURKB_DATA_KEYS）") from None

    def reseal(self, token: str) -> str:
        """The same value sealed with the first key (key rotation)."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")
