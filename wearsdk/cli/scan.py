"""``wearsdk scan``: nearby BLE devices."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from wearsdk.cli._args import TRANSPORT_HELP
from wearsdk.cli._numbers import positive_float


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
    scan = sub.add_parser(
        "scan", help="list nearby BLE devices", description="Scan for BLE devices."
    )
    scan.add_argument("--transport", default="bleak", metavar="T", help=TRANSPORT_HELP)
    scan.add_argument("--timeout", type=positive_float, default=5.0, metavar="S", help="seconds")
    scan.add_argument("--jsonl", action="store_true", help="one JSON object per device")
    scan.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk scan``."""
    from wearsdk.io.ble import parse_transport

    async def scan() -> list[dict[str, Any]]:
        async with parse_transport(args.transport) as transport:
            found = await transport.scan(timeout_s=args.timeout)
        return [
            {
                "address": device.address,
                "name": adv.local_name or device.name,
                "rssi": adv.rssi,
                "services": sorted(adv.service_uuids),
            }
            for device, adv in found
        ]

    devices = asyncio.run(scan())
    for d in devices:
        if args.jsonl:
            print(json.dumps(d, separators=(",", ":")))
        else:
            services = ", ".join(_service_label(u) for u in d["services"]) or "-"
            name = d["name"] or "(no name)"
            print(f"{d['address']:<20} {d['rssi']!s:>5} dBm  {name:<28} {services}")
    if not args.jsonl:
        print(f"{len(devices)} device(s) found")
    return 0


_KNOWN_SERVICES = {
    "0000180d-0000-1000-8000-00805f9b34fb": "Heart Rate",
    "0000180f-0000-1000-8000-00805f9b34fb": "Battery",
    "fb005c80-02e7-f387-1cad-8acd2d8df0c8": "Polar PMD",
    "c566488a-0882-4e1b-a6d0-0b717e652234": "BITalino",
}


def _service_label(uuid: str) -> str:
    return _KNOWN_SERVICES.get(uuid.lower(), uuid)
