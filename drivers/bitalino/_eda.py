"""The BITalino EDA sensors' transfer functions: ADC codes to and from µS."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from wearsdk import ConfigError

EdaSensor = Literal["revolution", "legacy"]
"""Which BITalino EDA sensor: the (r)evolution one (0-25 µS) or the older one (1 µS and up)."""


_REVOLUTION_GAIN = 0.132  # V per µS, from the (r)evolution EDA sensor's transfer function


def eda_usiemens(
    adc: npt.ArrayLike,
    *,
    bits: int = 10,
    sensor: EdaSensor = "revolution",
    vcc_v: float = 3.3,
) -> npt.NDArray[np.float64]:
    """Convert BITalino EDA ADC codes to skin conductance in µS (the sensor's datasheet).

    - ``"revolution"`` (BITalino (r)evolution EDA sensor, range 0-25 µS at VCC 3.3 V):
      ``EDA_uS = (ADC / 2^n) * VCC / 0.132`` (PLUX EDA sensor user manual; the same formula is
      in timeflux_bitalino's transfer functions);
    - ``"legacy"`` (the older BITalino EDA sensor, datasheet "EDA 080115", range 0-1 MOhm):
      ``R_MOhm = 1 - ADC / 2^n``, ``EDA_uS = 1 / R_MOhm`` (PLUX, "Converting BITalino's output
      values into their real units", 2014), so at least 1 µS.

    Args:
        adc: ADC codes.
        bits: resolution of the channel the codes come from: 10 for acquired channels 1-4,
            6 for 5-6 (:func:`channel_bits`).
        sensor: which EDA sensor.
        vcc_v: operating voltage (``"revolution"`` only).

    Raises:
        ConfigError: an unknown sensor or a resolution outside 1-16 bits.
    """
    if not 1 <= bits <= 16:
        raise ConfigError(f"ADC resolution must be 1-16 bits, got {bits}")
    x = np.asarray(adc, dtype=np.float64) / float(1 << bits)
    if sensor == "revolution":
        return x * vcc_v / _REVOLUTION_GAIN
    if sensor == "legacy":
        with np.errstate(divide="ignore"):
            return 1.0 / (1.0 - x)
    raise ConfigError(f"unknown BITalino EDA sensor {sensor!r} (revolution or legacy)")


def eda_adc_code(
    usiemens: npt.ArrayLike,
    *,
    bits: int = 10,
    sensor: EdaSensor = "revolution",
    vcc_v: float = 3.3,
) -> npt.NDArray[np.int64]:
    """The ADC code a BITalino EDA sensor outputs for a conductance.

    The inverse of :func:`eda_usiemens`.

    Rounded to the nearest code and clipped to the ADC range (used by the virtual twin).
    """
    if not 1 <= bits <= 16:
        raise ConfigError(f"ADC resolution must be 1-16 bits, got {bits}")
    g = np.asarray(usiemens, dtype=np.float64)
    full = float(1 << bits)
    if sensor == "revolution":
        x = g * _REVOLUTION_GAIN / vcc_v * full
    elif sensor == "legacy":
        x = full * (1.0 - 1.0 / np.maximum(g, 1.0))
    else:
        raise ConfigError(f"unknown BITalino EDA sensor {sensor!r} (revolution or legacy)")
    return np.clip(np.rint(x), 0, full - 1).astype(np.int64)
