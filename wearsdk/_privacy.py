"""Pseudonymous identifiers for anything that leaves the process."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wearsdk._errors import ConsentError

__all__ = ["Consent", "ExportPolicy", "Pseudonymizer", "require_consent"]

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


class ExportPolicy(StrEnum):
    """What a sink may send out of the process (minimisation; the default is ``ESTIMATES``).

    - ``ESTIMATES``: affect estimates, device status and gaps only;
    - ``FEATURES``: also window features and analyzer annotations;
    - ``RAW``: also raw physiological samples and heart-rate events.
    """

    ESTIMATES = "estimates"
    FEATURES = "features"
    RAW = "raw"

    @property
    def rank(self) -> int:
        """Order of permissiveness (estimates < features < raw)."""
        return {"estimates": 0, "features": 1, "raw": 2}[self.value]


class Consent(BaseModel):
    """A participant's consent record: what may be recorded and exported, until when.

    No recording and no export happens without one (:class:`~wearsdk.ConsentError`); it holds
    a pseudonym, never a name. Store the signed original elsewhere; this record is what the
    software checks.

    Attributes:
        participant: pseudonymous participant id (e.g. ``p-017``).
        purposes: purposes consented to (``research``, ``driver-monitoring``...).
        record: recording to files is allowed.
        export: the most a sink may export (see :class:`ExportPolicy`).
        expires_unix: unix time after which the consent no longer holds; ``None``: no expiry.
        obtained_by: who obtained it (role or pseudonym).
        obtained_unix: when it was obtained.
        simulated: the record covers simulated data only (demos and tests).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    participant: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    purposes: tuple[str, ...] = Field(min_length=1)
    record: bool = False
    export: ExportPolicy = ExportPolicy.ESTIMATES
    expires_unix: float | None = None
    obtained_by: str = Field(min_length=1)
    obtained_unix: float
    simulated: bool = False

    @classmethod
    def simulated_participant(cls, *, export: ExportPolicy = ExportPolicy.RAW) -> Consent:
        """A consent record for simulated data (the demo's virtual wearer): no person involved."""
        return cls(
            participant="simulated",
            purposes=("demonstration",),
            record=True,
            export=export,
            obtained_by="wearsdk",
            obtained_unix=time.time(),
            simulated=True,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Consent:
        """Read a consent record from a JSON file.

        Raises:
            ConsentError: the file is missing or not a valid consent record.
        """
        try:
            with open(path, encoding="utf-8") as f:
                return cls.model_validate_json(f.read())
        except (OSError, ValidationError) as exc:
            raise ConsentError(f"cannot use consent record {os.fspath(path)!r}: {exc}") from exc

    def check(self, *, export: ExportPolicy | None = None, record: bool = False) -> None:
        """Raise :class:`~wearsdk.ConsentError` unless this record allows the operation.

        Args:
            export: the export policy a sink wants to apply.
            record: whether recording to a file is wanted.
        """
        if self.expires_unix is not None and time.time() > self.expires_unix:
            raise ConsentError(f"the consent of participant {self.participant} has expired")
        if record and not self.record:
            raise ConsentError(f"participant {self.participant} did not consent to recording")
        if export is not None and export.rank > self.export.rank:
            raise ConsentError(
                f"participant {self.participant} consented to exporting {self.export.value} "
                f"only, not {export.value}"
            )


def require_consent(
    consent: Consent | None, *, export: ExportPolicy | None = None, record: bool = False
) -> Consent:
    """Return ``consent`` if it allows the operation, else raise :class:`ConsentError`.

    Without a record the session runs in-process only: nothing is recorded or exported.
    """
    if consent is None:
        what = "recording" if record else "exporting data out of the process"
        raise ConsentError(
            f"{what} needs a consent record (wearsdk.Consent; --consent FILE.json on the "
            "command line); without one the session stays in-process only"
        )
    consent.check(export=export, record=record)
    return consent
