"""``wearsdk schema``: the JSON Schemas of the wire format."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
    schema = sub.add_parser(
        "schema",
        help="print the JSON Schemas of the wire format (MQTT payloads, inbound annotations)",
        description="Print the versioned JSON Schemas of what wearsdk sends and accepts.",
    )
    schema.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk schema``."""
    from wearsdk.io import wire_json_schema

    print(json.dumps(wire_json_schema(), indent=2))
    return 0
