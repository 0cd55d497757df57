"""Polar sensors (H10): the driver and a virtual H10 twin.

The Polar Measurement Data (PMD) codec (control point requests and responses, data frames,
and the encoders the twin speaks) is in :mod:`wearsdk.drivers.polar.protocol`.
"""

import warnings
from typing import TYPE_CHECKING

from wearsdk.drivers.polar import protocol
from wearsdk.drivers.polar._driver import PmdError, PolarH10

__all__ = ["PmdError", "PolarH10", "SentFrame", "VirtualPolarH10"]


if TYPE_CHECKING:
    from wearsdk.drivers.polar._twin import SentFrame, VirtualPolarH10


def __getattr__(name: str) -> object:
    # The twin needs bumble; import it only when asked for.
    if name in ("SentFrame", "VirtualPolarH10"):
        from wearsdk.drivers.polar import _twin

        return getattr(_twin, name)
    if name in protocol.__all__:  # the codec's names were here before it had its own module
        warnings.warn(
            f"wearsdk.drivers.polar.{name} moved: import it from wearsdk.drivers.polar.protocol",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(protocol, name)
    raise AttributeError(name)
