"""A remote analyzer: publishes face annotations to a wearsdk session over MQTT.

Any program in any language can do the same: one JSON object per annotation (the
``annotation_in`` schema of ``wearsdk schema``), times on the unix clock, published to
``<prefix>/<session>/analyzer/<modality>/<analyzer_id>``. Here the "analysis" is a constant
valence given on the command line, where a real analyzer would look at camera frames.

    python examples/mqtt_analyzer.py --port 1883 --session s-1 --valence 0.6 --seconds 10
"""

import argparse
import asyncio
import json
import time

import aiomqtt


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--session", required=True, help="the wearsdk session id (MqttConfig)")
    parser.add_argument("--valence", type=float, default=0.6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=0.25, help="seconds between frames")
    args = parser.parse_args()
    topic = f"wearsdk/{args.session}/analyzer/face/remote-cam"
    async with aiomqtt.Client(args.host, args.port, identifier="remote-cam") as client:
        end = time.time() + args.seconds
        while time.time() < end:
            now = time.time()
            annotation = {
                "schema": "wearsdk.wire/1",
                "modality": "face",
                "analyzer_id": "remote-cam",
                "start_unix": now - args.every,
                "end_unix": now,
                "valence": args.valence,
                "arousal": 0.4,
                "confidence": 0.9,
                "extras": {"frame_rate_hz": 1.0 / args.every},
            }
            await client.publish(topic, json.dumps(annotation), qos=1)
            await asyncio.sleep(args.every)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
