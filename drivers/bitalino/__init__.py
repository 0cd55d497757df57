"""BITalino (r)evolution over Bluetooth LE: frame protocol, EDA driver and virtual twin."""

from typing import TYPE_CHECKING

from wearsdk.drivers.bitalino._driver import BITalino
from wearsdk.drivers.bitalino._protocol import (
    BITALINO_COMMANDS_UUID,
    BITALINO_FRAMES_UUID,
    BITALINO_SERVICE_UUID,
    SAMPLING_RATES_HZ,
    STOP_COMMAND,
    VERSION_COMMAND,
    BitalinoFrames,
    EdaSensor,
    FrameReassembler,
    channel_bits,
    crc4,
    decode_frames,
    eda_adc_code,
    eda_usiemens,
    encode_frame,
    frame_length,
    sampling_rate_command,
    start_command,
)

__all__ = [
    "BITALINO_COMMANDS_UUID",
    "BITALINO_FRAMES_UUID",
    "BITALINO_SERVICE_UUID",
    "SAMPLING_RATES_HZ",
    "STOP_COMMAND",
    "VERSION_COMMAND",
    "BITalino",
    "BitalinoFrames",
    "EdaSensor",
    "FrameReassembler",
    "SentBitalinoFrame",
    "VirtualBITalino",
    "channel_bits",
    "crc4",
    "decode_frames",
    "eda_adc_code",
    "eda_usiemens",
    "encode_frame",
    "frame_length",
    "sampling_rate_command",
    "start_command",
]


if TYPE_CHECKING:
    from wearsdk.drivers.bitalino._twin import SentBitalinoFrame, VirtualBITalino


def __getattr__(name: str) -> object:
    # The twin needs bumble; import it only when asked for.
    if name in ("SentBitalinoFrame", "VirtualBITalino"):
        from wearsdk.drivers.bitalino import _twin

        return getattr(_twin, name)
    raise AttributeError(name)
