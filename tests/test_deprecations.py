"""Names that moved keep working for a while, with a DeprecationWarning that says where to."""

import importlib
import sys

import pytest


def test_wearsdk_devices_is_the_driverkit_under_its_old_name() -> None:
    import wearsdk.driverkit

    sys.modules.pop("wearsdk.devices", None)
    with pytest.warns(DeprecationWarning, match=r"from wearsdk\.driverkit"):
        old = importlib.import_module("wearsdk.devices")
    assert old.BleSource is wearsdk.driverkit.BleSource
    assert old.Notifications is wearsdk.driverkit.Notifications


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("polar", "decode_pmd_frame"),
        ("polar", "PmdMeasurementType"),
        ("heart_rate", "parse_heart_rate_measurement"),
        ("heart_rate", "HEART_RATE_SERVICE_UUID"),
        ("bitalino", "encode_frame"),
        ("bitalino", "FrameReassembler"),
    ],
)
def test_protocol_codecs_moved_to_their_protocol_module(package: str, name: str) -> None:
    driver = importlib.import_module(f"wearsdk.drivers.{package}")
    protocol = importlib.import_module(f"wearsdk.drivers.{package}.protocol")
    assert name in protocol.__all__
    assert name not in driver.__all__
    with pytest.warns(DeprecationWarning, match=rf"wearsdk\.drivers\.{package}\.protocol"):
        moved = getattr(driver, name)
    assert moved is getattr(protocol, name)


def test_face_stats_is_face_statistics() -> None:
    import wearsdk.analyzers

    with pytest.warns(DeprecationWarning, match="FaceStatistics"):
        old = wearsdk.analyzers.FaceStats
    assert old is wearsdk.analyzers.FaceStatistics


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    import wearsdk.analyzers
    import wearsdk.drivers.polar

    with pytest.raises(AttributeError):
        _ = wearsdk.drivers.polar.no_such_name
    with pytest.raises(AttributeError):
        _ = wearsdk.analyzers.no_such_name
