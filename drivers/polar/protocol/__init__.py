"""Polar Measurement Data (PMD) service: control point requests and responses, data frames.

The PMD service (``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``) streams raw signals from Polar
sensors (H10: ECG and accelerometer). It has two characteristics:

- the **control point** (``...5C81``: read, write, indicate). Reading it returns the features
  (``0x0F`` then a little-endian bitmask, bit *k* = measurement type *k*). Requests are written
  to it: ``01 <type>`` get settings, ``02 <type> <setting TLVs>`` start, ``03 <type>`` stop;
  each is answered by an indication ``F0 <op code> <type> <status> <more> [parameters]``.
- the **data** characteristic (``...5C82``: notify) carries frames:

  ======== ==================================================================================
  byte 0   measurement type (low 6 bits)
  1-8      uint64 LE: time of the **last** sample, ns since 2000-01-01T00:00:00 on the sensor
           clock
  9        frame type: bit 7 = delta-compressed, bits 0-6 = frame type
  10-      samples: raw (fixed-width little-endian integers, channels interleaved) or, when
           compressed, a reference sample (each channel in ``ceil(resolution / 8)`` bytes)
           followed by delta blocks ``[bit width][sample count][count x channels x width bits,
           packed LSB first]``; each delta is sign-extended from its width and added to the
           previous sample.
  ======== ==================================================================================

Setting TLVs are ``<setting type> <count> <count values>``: sample rate (0), resolution (1)
and range (2) are uint16, range in milliunits (3) int32, channels (4) uint8, factor (5) an
IEEE-754 float32 that scales the decoded integers.

Everything here follows Polar's public SDK sources (``polarofficial/polar-ble-sdk``, Android
``BlePMDClient.kt``, ``PmdControlPointResponse.kt``, ``PmdSetting.kt``, ``PmdMeasurementType.kt``,
``PmdDataFrame.kt``, ``model/EcgData.kt``, ``model/AccData.kt``, ``model/PmdTimeStampUtils.kt``)
except where a docstring says otherwise. Decoding never raises anything but
:class:`~wearsdk.ProtocolError` on device input; the encoders (used by the virtual twin) raise
:class:`~wearsdk.ConfigError` on values that do not fit.
"""

from wearsdk.drivers.polar.protocol._control import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_EPOCH_UNIX_S,
    PMD_FEATURES_CODE,
    PMD_MIN_MTU,
    PMD_RESPONSE_CODE,
    PMD_SERVICE_UUID,
    POLAR_POWER_LOSS_EPOCH_NS,
    PmdMeasurementType,
    PmdOpCode,
    PmdResponse,
    PmdSettingType,
    PmdStatus,
    SettingValue,
    encode_control_point_response,
    encode_features,
    encode_settings,
    merge_control_point_responses,
    parse_control_point_response,
    parse_features,
    parse_settings,
    pmd_settings_request,
    pmd_start_request,
    pmd_stop_request,
)
from wearsdk.drivers.polar.protocol._frames import (
    PmdFrame,
    PmdFrameLayout,
    decode_pmd_frame,
    encode_delta_frame,
    encode_pmd_frame,
    frame_layout,
)

__all__ = [
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_EPOCH_UNIX_S",
    "PMD_FEATURES_CODE",
    "PMD_MIN_MTU",
    "PMD_RESPONSE_CODE",
    "PMD_SERVICE_UUID",
    "POLAR_POWER_LOSS_EPOCH_NS",
    "PmdFrame",
    "PmdFrameLayout",
    "PmdMeasurementType",
    "PmdOpCode",
    "PmdResponse",
    "PmdSettingType",
    "PmdStatus",
    "SettingValue",
    "decode_pmd_frame",
    "encode_control_point_response",
    "encode_delta_frame",
    "encode_features",
    "encode_pmd_frame",
    "encode_settings",
    "frame_layout",
    "merge_control_point_responses",
    "parse_control_point_response",
    "parse_features",
    "parse_settings",
    "pmd_settings_request",
    "pmd_start_request",
    "pmd_stop_request",
]
