"""Pseudonymous identifiers for anything that leaves the process."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

__all__ = ["Pseudonymizer"]

_KEY_ENV = "WEARSDK_PSEUDONYM_KEY"


class Pseudonymizer:
    """Replaces identifiers (device addresses, participant ids) by keyed hashes.

    The same identifier maps to the same pseudonym under the same key, so a deployment that
    keeps its key (``WEARSDK_PSEUDONYM_KEY``, hex or text) gets stable pseudonyms across
    sessions; without a key, a random one is drawn per process and pseudonyms are unlinkable
    across runs. The key never appears in output.

    Args:
        key: the secret key; default: ``WEARSDK_PSEUDONYM_KEY`` or 32 random bytes.
    """

    def __init__(self, key: bytes | None = None) -> None:
        if key is None:
            env = os.environ.get(_KEY_ENV)
            key = env.encode() if env else secrets.token_bytes(32)
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<hidden>)"

    def pseudonym(self, identifier: str, *, prefix: str = "dev") -> str:
        """Return ``<prefix>-<12 hex chars>`` for ``identifier`` (case-insensitive).

        Args:
            identifier: the identifying string (MAC address, UUID, participant id).
            prefix: a short lowercase label for the kind of thing (``hr``, ``eda``, ``p``).
        """
        clean = re.sub(r"[^a-z0-9_-]", "", prefix.lower()) or "dev"
        digest = hmac.new(self._key, identifier.strip().lower().encode(), hashlib.sha256)
        return f"{clean}-{digest.hexdigest()[:12]}"
