"""What the sinks could not deliver, said once by the command line, at its end."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wearsdk._contracts import SinkReport
    from wearsdk.io.mqtt import MqttStatistics

__all__ = ["UNDELIVERED", "HeldUndelivered", "report_sinks"]


class HeldUndelivered(logging.Filter):
    """Holds back the session's ``sink NAME: N messages were not delivered`` log lines: the
    command says each sink's count once, at its end (:func:`report_sinks`; for an MQTT
    export that never reached its broker, in the error it ends with). What
    :func:`report_sinks` did not say (the command was interrupted) is logged by
    :meth:`release`.
    """  # noqa: D205

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []
        self.said: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """Hold a session's count of undelivered messages; let every other record pass."""
        if getattr(record, "undelivered_sink", None) is None:
            return True
        self.held.append(record)
        return False

    def install(self) -> None:
        """Start holding (on the ``wearsdk.session`` logger), with nothing held or said."""
        self.held.clear()
        self.said.clear()
        session_logger = logging.getLogger("wearsdk.session")
        if self not in session_logger.filters:
            session_logger.addFilter(self)

    def release(self) -> None:
        """Log what was held and not said by :func:`report_sinks`."""
        held, self.held = self.held, []
        for record in held:
            if getattr(record, "undelivered_sink", None) not in self.said:
                logging.getLogger(record.name).callHandlers(record)


UNDELIVERED = HeldUndelivered()
"""The command line's holder of the session's undelivered counts (installed by ``main``)."""


def report_sinks(reports: Sequence[SinkReport], mqtt: MqttStatistics | None = None) -> bool:
    """Say on stderr which sinks could not deliver everything; return whether one failed.

    A sink that failed was reported when it failed (the session logs it once and goes on);
    the command then ends with exit code 1. So does an MQTT export whose broker was never
    reached (``mqtt``: the bridge's counters): it said so as it happened, and says it again,
    with the count of messages it could not deliver, as the error the command ends with.
    Each sink's count is said here once (the session's log line of it is held back).
    """
    unreached = mqtt is not None and mqtt.connects == 0
    for report in reports:
        UNDELIVERED.said.add(report.name)
        if report.error is None and not report.ok and not (unreached and report.name == "mqtt"):
            print(f"wearsdk: {report.describe()}", file=sys.stderr)
    if unreached:
        assert mqtt is not None
        why = mqtt.last_error or "no connection"
        lost = sum(r.undelivered for r in reports if r.name == "mqtt")
        print(
            f"wearsdk: error: the MQTT export never reached its broker ({why}); nothing was "
            f"exported ({lost} messages not delivered): check the URL and that the broker "
            "runs (`wearsdk doctor --mqtt URL`)",
            file=sys.stderr,
        )
    return unreached or any(report.error is not None for report in reports)
