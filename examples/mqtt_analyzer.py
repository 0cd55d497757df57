"""A remote analyzer: publishes face annotations to a wearsdk session over MQTT.

The analyzer stamps what it sees on its own clock, which may be on another machine and
disagree with the session's by hours; ``AnalyzerClient`` measures that clock against the
session's with NTP-style round trips over the same broker and converts the times before
publishing. Here the "analysis" is a constant valence given on the command line, where a real
analyzer would look at camera frames; ``--clock-offset-s`` and ``--drift-ppm`` simulate a
machine whose clock is off. Each annotation also carries, in ``extras["monotonic_s"]``, this
machine's monotonic clock at the instant it was stamped, so that a session on the same
machine can check the alignment.

    python examples/mqtt_analyzer.py --port 1883 --session s-1 --valence 0.6 --seconds 10

Programs that cannot use wearsdk publish the same JSON themselves (the ``annotation_in``
schema of ``wearsdk schema``, unix times, topic
``<prefix>/<session>/analyzer/<modality>/<analyzer_id>``); their clock must then agree with
the session's (NTP).
"""

import argparse
import asyncio
import time

from wearsdk.io.mqtt import AnalyzerClient, MqttConfig


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--session", required=True, help="the wearsdk session id (MqttConfig)")
    parser.add_argument("--valence", type=float, default=0.6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=0.25, help="seconds between frames")
    parser.add_argument("--clock-offset-s", type=float, default=0.0)
    parser.add_argument("--drift-ppm", type=float, default=0.0)
    parser.add_argument(
        "--sync-timeout", type=float, default=10.0, help="seconds to wait for the session"
    )
    args = parser.parse_args()
    origin = time.monotonic()

    def own_clock() -> float:
        """This analyzer's clock: offset and drifting against the machine's."""
        elapsed = time.monotonic() - origin
        return origin + args.clock_offset_s + elapsed * (1 + args.drift_ppm * 1e-6)

    config = MqttConfig(url=f"mqtt://{args.host}:{args.port}", session=args.session)
    async with AnalyzerClient(
        config, analyzer_id="remote-cam", modality="face", clock=own_clock
    ) as link:
        try:
            await link.wait_synced(exchanges=8, timeout_s=args.sync_timeout)
        except TimeoutError:
            raise SystemExit(
                f"mqtt_analyzer: error: no wearsdk session {args.session!r} answered on "
                f"{args.host}:{args.port} within {args.sync_timeout:g} s; start one with "
                f"--mqtt mqtt://{args.host}:{args.port} --mqtt-session {args.session}"
            ) from None
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            frame_end = own_clock()
            truth = time.monotonic()
            await link.annotate(
                start=frame_end - args.every,
                end=frame_end,
                valence=args.valence,
                arousal=0.4,
                confidence=0.9,
                extras={"monotonic_s": truth},
            )
            await asyncio.sleep(args.every)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
