"""Late fusion: alignment, weights, missing modalities, watermark revisions (pure, no loop)."""

import pytest

from wearsdk import Annotation, Estimate
from wearsdk.affect import FusionConfig, LateFusion, ModalityWeight


def physio(end: float, arousal: float = 0.7, confidence: float = 0.8) -> Estimate:
    return Estimate(
        t=end,
        window_start=end - 60.0,
        window_end=end,
        arousal=arousal,
        confidence=confidence,
        modalities=("rr", "eda"),
        sources=("hr-1",),
        model="physio-x",
    )


def face(end: float, valence: float, arousal: float | None = None, conf: float = 0.9) -> Annotation:
    return Annotation(
        t=end,
        modality="face",
        analyzer_id="cam",
        start=end - 1.0,
        end=end,
        valence=valence,
        arousal=arousal,
        confidence=conf,
    )


def test_physiology_alone_passes_through_unchanged() -> None:
    fusion = LateFusion()
    est = physio(100.0)
    assert fusion.add_physio(est) == [est]


def test_face_sets_valence_and_barely_moves_arousal() -> None:
    fusion = LateFusion()
    for t in range(95, 101):
        fusion.add_annotation(face(float(t), valence=0.8, arousal=0.2))
    (out,) = fusion.add_physio(physio(100.0, arousal=0.7))
    assert out.valence == pytest.approx(0.8)
    assert out.valence_confidence > 0.5
    # face arousal (0.2) pulls physiology's 0.7 down a little, not to the middle
    assert 0.5 < out.arousal < 0.7
    assert out.modalities == ("rr", "eda", "face")
    assert out.sources == ("hr-1", "cam")
    assert out.model == "physio-x+late-fusion-v1"
    assert not out.revised


def test_weights_are_configurable() -> None:
    cfg = FusionConfig(weights={"physio": ModalityWeight(1.0, 0.0), "face": ModalityWeight(0, 1)})
    fusion = LateFusion(cfg)
    fusion.add_annotation(face(100.0, valence=0.5, arousal=0.0))
    (out,) = fusion.add_physio(physio(100.0, arousal=0.7))
    assert out.arousal == pytest.approx(0.7)  # face has no say in arousal here
    assert out.valence == pytest.approx(0.5)


def test_annotations_outside_the_window_and_tolerance_do_not_count() -> None:
    fusion = LateFusion(FusionConfig(lookback_s=10.0, tolerance_s=0.5))
    fusion.add_annotation(face(80.0, valence=-0.9))  # ended 20 s before the window end
    a = face(110.0, valence=0.9)  # starts 9 s after the window end
    fusion.add_annotation(a)
    (out,) = fusion.add_physio(physio(100.0))
    assert out.valence is None
    assert "face" not in out.modalities


def test_recent_annotations_weigh_more() -> None:
    fusion = LateFusion(FusionConfig(recency_tau_s=2.0))
    fusion.add_annotation(face(92.0, valence=-1.0))
    fusion.add_annotation(face(100.0, valence=1.0))
    (out,) = fusion.add_physio(physio(100.0))
    assert out.valence is not None
    assert out.valence > 0.9


def test_late_annotation_revises_the_estimate() -> None:
    fusion = LateFusion()
    fusion.add_annotation(face(99.0, valence=0.6))
    (first,) = fusion.add_physio(physio(100.0))
    assert first.valence == pytest.approx(0.6)
    # a second camera frame judged at 100 s arrives after the estimate was published
    fusion.add_annotation(face(100.0, valence=-0.8))
    assert fusion.stats.late == 1
    out = fusion.add_physio(physio(101.0))
    revised, on_time = out
    assert revised.revised
    assert not on_time.revised
    assert (revised.window_start, revised.window_end) == (first.window_start, first.window_end)
    assert revised.valence is not None
    assert revised.valence < first.valence - 0.3
    assert fusion.stats.revisions == 1
    # nothing new: no more revisions
    assert fusion.flush() == []


def test_a_late_annotation_that_changes_nothing_gives_no_revision() -> None:
    fusion = LateFusion()
    fusion.add_annotation(face(99.0, valence=0.6))
    fusion.add_physio(physio(100.0))
    fusion.add_annotation(face(99.0, valence=0.6))  # a duplicate (QoS 1 redelivery)
    assert fusion.flush() == []


def test_annotations_after_the_watermark_closed_their_windows_are_counted() -> None:
    fusion = LateFusion(FusionConfig(revise_within_s=5.0, lookback_s=2.0))
    for end in range(100, 121):
        fusion.add_physio(physio(float(end)))
    fusion.add_annotation(face(101.0, valence=0.5))
    assert fusion.stats.too_late == 1
    assert fusion.flush() == []


def test_missing_modality_lowers_confidence_instead_of_breaking() -> None:
    fusion = LateFusion()
    fusion.add_annotation(face(99.0, valence=0.5, arousal=0.7))
    (with_face,) = fusion.add_physio(physio(100.0, arousal=0.7))
    # the camera goes silent: later windows are still estimated, with less confidence
    (without,) = fusion.add_physio(physio(130.0, arousal=0.7))
    assert without.arousal == pytest.approx(0.7)
    assert without.confidence < with_face.confidence
    assert without.confidence < 0.8  # physiology's own confidence, shared with the absent face
    assert "missing_face" in without.flags
    assert without.valence_confidence == 0.0


def test_configured_expected_modality_counts_from_the_start() -> None:
    fusion = LateFusion(FusionConfig(expected=("voice",)))
    (out,) = fusion.add_physio(physio(100.0, confidence=0.8))
    assert out.confidence == pytest.approx(0.8 * 1.0 / 1.7)
    assert "missing_voice" in out.flags


def test_markers_and_empty_annotations_are_ignored() -> None:
    fusion = LateFusion()
    fusion.add_annotation(
        Annotation(t=99, modality="marker", analyzer_id="script", start=90, end=99, valence=1.0)
    )
    fusion.add_annotation(
        Annotation(t=99, modality="face", analyzer_id="cam", start=98, end=99, label="blink")
    )
    est = physio(100.0)
    assert fusion.add_physio(est) == [est]
    assert fusion.stats.ignored == 2


def test_memory_is_bounded_without_physiological_windows() -> None:
    fusion = LateFusion()
    for i in range(20_000):  # 10 minutes of 30 fps frames, and no physiology at all
        fusion.add_annotation(face(i / 30.0, valence=0.1))
    horizon = 2 * (30.0 + 10.0 + 0.5)
    assert fusion.stats.expired > 0
    assert fusion.stats.annotations - fusion.stats.expired <= horizon * 30 + 2
