"""Run a session described by a :class:`~wearsdk._config.SessionConfig` (``wearsdk run``).

``_parts`` builds the session's parts from the configuration, ``_guards`` checks consent,
outputs and connections, ``_runner`` is the one runner every session command calls.
"""

from wearsdk._run._runner import RunResult, run_session

__all__ = ["RunResult", "run_session"]
