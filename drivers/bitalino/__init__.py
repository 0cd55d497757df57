"""BITalino (r)evolution over Bluetooth LE: EDA driver and virtual twin.

The frame protocol is in :mod:`wearsdk.drivers.bitalino.protocol`.
"""

import warnings
from typing import TYPE_CHECKING

from wearsdk.drivers.bitalino import protocol
from wearsdk.drivers.bitalino._driver import BITalino
from wearsdk.drivers.bitalino._protocol import EdaSensor

__all__ = [
    "BITalino",
    "EdaSensor",
    "SentBitalinoFrame",
    "VirtualBITalino",
]


if TYPE_CHECKING:
    from wearsdk.drivers.bitalino._twin import SentBitalinoFrame, VirtualBITalino


def __getattr__(name: str) -> object:
    # The twin needs bumble; import it only when asked for.
    if name in ("SentBitalinoFrame", "VirtualBITalino"):
        from wearsdk.drivers.bitalino import _twin

        return getattr(_twin, name)
    if name in protocol.__all__:  # the codec's names were here before it had its own module
        warnings.warn(
            f"wearsdk.drivers.bitalino.{name} moved: "
            f"import it from wearsdk.drivers.bitalino.protocol",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(protocol, name)
    raise AttributeError(name)
