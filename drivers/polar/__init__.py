"""Polar sensors (H10): the Polar Measurement Data (PMD) protocol and a virtual H10 twin."""

from typing import TYPE_CHECKING

from wearsdk.drivers.polar._driver import PmdError, PolarH10
from wearsdk.drivers.polar._pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_EPOCH_UNIX_S,
    PMD_FEATURES_CODE,
    PMD_MIN_MTU,
    PMD_RESPONSE_CODE,
    PMD_SERVICE_UUID,
    POLAR_POWER_LOSS_EPOCH_NS,
    PmdFrame,
    PmdFrameLayout,
    PmdMeasurementType,
    PmdOpCode,
    PmdResponse,
    PmdSettingType,
    PmdStatus,
    decode_pmd_frame,
    encode_control_point_response,
    encode_delta_frame,
    encode_features,
    encode_pmd_frame,
    encode_settings,
    frame_layout,
    merge_control_point_responses,
    parse_control_point_response,
    parse_features,
    parse_settings,
    pmd_settings_request,
    pmd_start_request,
    pmd_stop_request,
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
    "PmdError",
    "PmdFrame",
    "PmdFrameLayout",
    "PmdMeasurementType",
    "PmdOpCode",
    "PmdResponse",
    "PmdSettingType",
    "PmdStatus",
    "PolarH10",
    "SentFrame",
    "VirtualPolarH10",
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


if TYPE_CHECKING:
    from wearsdk.drivers.polar._twin import SentFrame, VirtualPolarH10


def __getattr__(name: str) -> object:
    # The twin needs bumble; import it only when asked for.
    if name in ("SentFrame", "VirtualPolarH10"):
        from wearsdk.drivers.polar import _twin

        return getattr(_twin, name)
    raise AttributeError(name)
