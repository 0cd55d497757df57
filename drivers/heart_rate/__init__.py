"""Standard Heart Rate Service (0x180D) straps: driver and virtual twin.

The services' codec is in :mod:`wearsdk.drivers.heart_rate.protocol`.
"""

import warnings
from typing import TYPE_CHECKING

from wearsdk.drivers.heart_rate import protocol
from wearsdk.drivers.heart_rate._driver import BeatTimeline, HeartRateStrap

__all__ = [
    "BeatTimeline",
    "HeartRateStrap",
    "VirtualHeartRateStrap",
]


if TYPE_CHECKING:
    from wearsdk.drivers.heart_rate._twin import VirtualHeartRateStrap


def __getattr__(name: str) -> object:
    # The twin needs bumble; import it only when asked for.
    if name == "VirtualHeartRateStrap":
        from wearsdk.drivers.heart_rate._twin import VirtualHeartRateStrap

        return VirtualHeartRateStrap
    if name in protocol.__all__:  # the codec's names were here before it had its own module
        warnings.warn(
            f"wearsdk.drivers.heart_rate.{name} moved: "
            f"import it from wearsdk.drivers.heart_rate.protocol",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(protocol, name)
    raise AttributeError(name)
