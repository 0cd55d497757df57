"""``wearsdk twin``: serve a virtual device on a bumble transport."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from wearsdk._errors import ConfigError, TransportUnavailableError
from wearsdk.cli._args import add_option_argument, construct, entry_points, load
from wearsdk.cli._numbers import non_negative_int, positive_float

_SUPERVISION_TIMEOUT_S = 2.0
"""Real seconds after which a twin drops a central that stopped answering."""


def add_parser(sub: Any) -> None:
    """Add the command to the ``wearsdk`` subcommands."""
    twin = sub.add_parser(
        "twin",
        help="serve a virtual device on a bumble transport (for tests and demos across processes)",
        description=(
            "Serve a virtual twin over a bumble transport, e.g. one side of a virtual "
            "controller pair: start 'python -m bumble.apps.controllers "
            "tcp-server:127.0.0.1:P1 tcp-server:127.0.0.1:P2', then 'wearsdk twin heart-rate "
            "--transport bumble:tcp-client:127.0.0.1:P1' and 'wearsdk stream --transport "
            "bumble:tcp-client:127.0.0.1:P2 --device NAME'. The twin serves for --duration "
            "seconds (default 600), then exits with code 0."
        ),
    )
    twin.add_argument(
        "kind", help=f"twin kind ({', '.join(sorted(entry_points('wearsdk.twins')))})"
    )
    twin.add_argument(
        "--transport",
        required=True,
        metavar="T",
        help="bumble:<spec> as for scan and stream, e.g. bumble:tcp-client:127.0.0.1:19001 "
        "(a bare bumble spec is taken too)",
    )
    twin.add_argument("--name", default=None, help="advertised name")
    twin.add_argument(
        "--duration",
        type=positive_float,
        default=600.0,
        metavar="S",
        help="serve for S seconds of the simulation, then exit (default 600)",
    )
    twin.add_argument("--speed", type=positive_float, default=1.0, metavar="X")
    twin.add_argument("--seed", type=non_negative_int, default=0)
    add_option_argument(
        twin, "a twin option (repeatable), e.g. --option profile=board.toml for gatt-profile"
    )
    twin.set_defaults(func=cmd)


def cmd(args: argparse.Namespace) -> int:
    """``wearsdk twin KIND``."""
    from wearsdk._clock import ScaledClock
    from wearsdk.driverkit import VirtualPeripheral
    from wearsdk.io.ble import open_peripheral
    from wearsdk.sim import ArousalScript, HeartSimulator

    twin_cls = load("wearsdk.twins", args.kind)
    name = args.name or f"wearsdk {args.kind} twin"
    spec = str(args.transport).strip().removeprefix("bumble:")
    if not spec or spec == "bleak":
        raise ConfigError(
            "a twin is served on a bumble transport: --transport bumble:<spec>, e.g. "
            "bumble:tcp-client:127.0.0.1:19001"
        )

    async def serve() -> None:
        clock = ScaledClock(args.speed)
        heart = HeartSimulator(ArousalScript.calm_stress_recovery(args.duration), seed=args.seed)
        async with (
            open_peripheral(spec, name=name) as device,
            construct(
                twin_cls,
                f"twin {args.kind}",
                device,
                heart,
                clock,
                options=dict(args.option),
                name=name,
            ) as twin,  # fmt: skip
        ):
            if isinstance(twin, VirtualPeripheral):
                # a central killed without disconnecting must not keep the twin from advertising
                twin.supervise_links(_SUPERVISION_TIMEOUT_S)
            print(f"serving {args.kind} twin {name!r} on bumble:{spec}", flush=True)
            await asyncio.sleep(clock.real_delay_s(args.duration))
            print(f"twin {name!r}: served {args.duration:g} s (--duration), exiting", flush=True)

    try:
        asyncio.run(serve())
    except TransportUnavailableError:
        raise  # already says what and why
    except OSError as exc:
        raise TransportUnavailableError(
            f"cannot open the bumble transport 'bumble:{spec}': {exc.strerror or exc}; "
            "start the controllers first (see `wearsdk twin --help`)"
        ) from None
    return 0
