"""Pseudonymous identifiers for anything that leaves the process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wearsdk._errors import ConsentError

__all__ = ["Consent", "ConsentGate", "ExportPolicy", "Pseudonymizer", "require_consent"]

logger = logging.getLogger("wearsdk.consent")

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
        expires_unix: unix time after which the consent no longer holds; ``None``: no expiry
            (a finite time after ``obtained_unix``: NaN and infinities are refused).
        obtained_by: who obtained it (role or pseudonym).
        obtained_unix: when it was obtained.
        simulated: the record covers simulated data only (demos and tests).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # not in the repr (a record printed or logged by mistake names nobody)
    participant: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", repr=False)
    purposes: tuple[str, ...] = Field(min_length=1)
    record: bool = False
    export: ExportPolicy = ExportPolicy.ESTIMATES
    expires_unix: float | None = Field(default=None, allow_inf_nan=False)
    obtained_by: str = Field(min_length=1, repr=False)
    obtained_unix: float = Field(allow_inf_nan=False)
    simulated: bool = False

    @model_validator(mode="after")
    def _expires_after_obtained(self) -> Self:
        if self.expires_unix is not None and self.expires_unix <= self.obtained_unix:
            raise ValueError("expires_unix must be after obtained_unix")
        return self

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
            ConsentError: the file is missing, not a valid consent record (also a non-finite
                expiry), or the record has already expired.
        """
        try:
            with open(path, encoding="utf-8") as f:
                record = cls.model_validate_json(f.read(1 << 20))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise ConsentError(
                f"cannot use consent record {os.fspath(path)!r}: not a consent record "
                f"({problems}; see docs/privacy.md)"
            ) from None
        except OSError as exc:
            raise ConsentError(
                f"cannot use consent record {os.fspath(path)!r}: {exc.strerror or exc}"
            ) from None
        except UnicodeDecodeError:
            raise ConsentError(
                f"cannot use consent record {os.fspath(path)!r}: not UTF-8 text"
            ) from None
        if record.expired():
            raise ConsentError(
                f"cannot use consent record {os.fspath(path)!r}: it expired "
                f"{time.time() - (record.expires_unix or 0.0):.0f} s ago"
            )
        return record

    def expired(self, at_unix: float | None = None) -> bool:
        """Whether the record no longer holds at ``at_unix`` (default: now).

        The expiry instant itself is expired: nothing may be exported or recorded from it on.
        """
        now = time.time() if at_unix is None else at_unix
        return self.expires_unix is not None and now >= self.expires_unix

    def check(self, *, export: ExportPolicy | None = None, record: bool = False) -> None:
        """Raise :class:`~wearsdk.ConsentError` unless this record allows the operation.

        Args:
            export: the export policy a sink wants to apply.
            record: whether recording to a file is wanted.
        """
        if self.expired():
            raise ConsentError(self._expired_message())
        if record and not self.record:
            raise ConsentError("the consent record does not allow recording (record: false)")
        if export is not None and export.rank > self.export.rank:
            raise ConsentError(
                f"the consent record allows exporting {self.export.value} only, not {export.value}"
            )

    def _expired_message(self) -> str:
        """What an expired record's error says: when it expired, not whose it is (errors and
        logs carry no participant id)."""  # noqa: D205, D209
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.expires_unix or 0.0))
        return f"the consent record expired at {when}"


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


class ConsentGate:
    """A consent record as a live condition of a running session: expiry and withdrawal.

    Checking a :class:`Consent` at start is not enough: it may expire mid-session, and the
    participant may withdraw it. Every sink that exports or records holds the session's gate
    and asks :meth:`allows` before each write (so nothing leaves at or after the expiry
    instant), and awaits :meth:`wait_closed` to stop at once (drop what it holds, close its
    output); the session keeps running in-process. A gate never reopens: a new consent
    record means a new gate.

    Args:
        consent: the record (``None``: a gate that allows nothing).
        clock: unix time source (seconds); ``time.time`` by default, a controlled clock in
            tests.
    """

    def __init__(self, consent: Consent | None, *, clock: Callable[[], float] = time.time) -> None:
        self.consent = consent
        self._clock = clock
        self._withdrawn: str | None = None
        self._changed = asyncio.Event()
        self._callbacks: list[Callable[[str], None]] = []
        self._notified = False

    def __repr__(self) -> str:
        # no participant id: a repr ends up in logs and error reports
        given = self.consent is not None
        return f"ConsentGate(consent_given={given}, closed={self.closed_reason()!r})"

    def closed_reason(self, at_unix: float | None = None) -> str | None:
        """Why the gate is closed at ``at_unix`` (default: now), or ``None`` while open.

        Returns:
            ``"withdrawn"`` (:meth:`withdraw`), ``"expired"`` (at or after
            ``expires_unix``), ``"no consent"`` or ``None``.
        """
        if self._withdrawn is not None:
            return "withdrawn"
        if self.consent is None:
            return "no consent"
        now = self._clock() if at_unix is None else at_unix
        return "expired" if self.consent.expired(now) else None

    def allows(
        self,
        *,
        export: ExportPolicy | None = None,
        record: bool = False,
        at_unix: float | None = None,
    ) -> bool:
        """Whether exporting at ``export`` / recording is allowed at ``at_unix`` (now)."""
        if self.closed_reason(at_unix) is not None:
            return False
        assert self.consent is not None
        if record and not self.consent.record:
            return False
        return export is None or export.rank <= self.consent.export.rank

    def check(self, *, export: ExportPolicy | None = None, record: bool = False) -> Consent:
        """The record, if it allows the operation now.

        Raises:
            ConsentError: no record, withdrawn, expired, or not allowing the operation.
        """
        if self._withdrawn is not None:
            raise ConsentError(f"consent was withdrawn ({self._withdrawn})")
        consent = require_consent(self.consent, export=export, record=record)
        if consent.expired(self._clock()):
            raise ConsentError(consent._expired_message())
        return consent

    def remaining_s(self) -> float:
        """Seconds until expiry (``inf`` without expiry; ``0`` once closed)."""
        if self.closed_reason() is not None:
            return 0.0
        assert self.consent is not None
        if self.consent.expires_unix is None:
            return math.inf
        return max(0.0, self.consent.expires_unix - self._clock())

    def withdraw(self, reason: str = "by the participant") -> None:
        """Withdraw consent now: the gate closes for good and every waiter wakes.

        Safe to call from a signal handler installed with ``loop.add_signal_handler`` and
        more than once (the first reason is kept).
        """
        if self._withdrawn is None:
            self._withdrawn = reason
            logger.warning("consent withdrawn (%s): export and recording stop", reason)
        self._changed.set()
        self._notify("withdrawn")

    def on_close(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` once when the gate closes (while :meth:`wait_closed` or
        :meth:`watch` runs for expiry; at once for :meth:`withdraw`)."""  # noqa: D205, D209
        self._callbacks.append(callback)
        if self._notified:
            callback(self.closed_reason() or "closed")

    def _notify(self, reason: str) -> None:
        if self._notified:
            return
        self._notified = True
        for callback in self._callbacks:
            try:
                callback(reason)
            except Exception:  # a failing listener must not keep the others from stopping
                logger.exception("consent close callback failed")

    async def wait_closed(self) -> str:
        """Wait until the gate closes (the expiry instant or a withdrawal); return why.

        The wait re-reads the clock at least once a second, so a wall clock that is set
        forward closes the gate within a second.
        """
        while True:
            reason = self.closed_reason()
            if reason is not None:
                self._notify(reason)
                return reason
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(1.0, self.remaining_s()))

    async def watch(self, path: str | os.PathLike[str], *, poll_s: float = 0.5) -> str:
        """Withdraw when ``path`` appears (a file the operator or a kiosk app creates);
        return why the gate closed (also for expiry). Cancel it to stop watching."""  # noqa: D205, D209
        flag = Path(path)
        while True:
            if await asyncio.to_thread(flag.exists):
                self.withdraw(f"withdrawal file {flag.name}")
            reason = self.closed_reason()
            if reason is not None:
                self._notify(reason)
                return reason
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(poll_s, self.remaining_s()))
