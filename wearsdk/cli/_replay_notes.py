"""What ``wearsdk replay`` says besides its output: the settings it runs with, what of the
recording it could not use, why there are no estimates."""  # noqa: D205, D209

from __future__ import annotations

import argparse
from typing import Any

from wearsdk._errors import ConfigError


def report_what_was_not_used(source: Any, *, out: Any) -> None:
    """Say what of the recording the replay could not use (also when it printed JSON)."""
    unusable: dict[str, str] = getattr(source, "unusable", {}) or {}
    if unusable:
        print(f"replay: {len(unusable)} stream(s) not used:", file=out)
        for stream, reason in sorted(unusable.items()):
            print(f"  {stream}: {reason}", file=out)
    if dropped := getattr(source, "dropped_samples", 0):
        print(f"replay: {dropped} sample(s) dropped for a non-finite timestamp", file=out)
    if getattr(source, "truncated", False):
        print("replay: the file ends inside a chunk (an interrupted recording?)", file=out)


def _section_keys() -> tuple[str, ...]:
    from wearsdk._config import PipelineSection

    return tuple(PipelineSection.model_fields)


def pipeline_settings(args: argparse.Namespace, out: Any) -> dict[str, Any]:
    """The ``[pipeline]`` of the replay: those the recording keeps, then ``--pipeline``."""
    keys = _section_keys()
    settings: dict[str, Any] = {"baseline_s": 180.0}  # no settings in the file
    xdf = (args.source or ("xdf" if args.path.suffix.lower() == ".xdf" else "")) == "xdf"
    if xdf and args.path.is_file():
        from wearsdk.io.lsl._xdf_reader import recorded_pipeline

        recorded = recorded_pipeline(args.path)
        if recorded is not None:
            settings = {k: v for k, v in recorded.items() if k in keys}
            given = dict(args.pipeline)
            kept = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()) if k not in given)
            print(f"replay: the pipeline settings of the recording: {kept}", file=out)
    for key, value in args.pipeline:
        if key not in keys:
            raise ConfigError(
                f"--pipeline {key}: not a pipeline setting (one of {', '.join(keys)})"
            )
        settings[key] = value
    return settings


def say_why_there_are_no_estimates(source: Any, window_s: float, *, out: Any) -> None:
    """A recording shorter than one window gives no estimate: say so, not nothing."""
    span = getattr(source, "span_s", None)
    if span is not None and span < window_s:
        print(
            f"replay: no estimates: the replayed recording ({span:.1f} s) is shorter than the "
            f"pipeline's window ({window_s:g} s); a shorter window: --pipeline window_s=S",
            file=out,
        )
