"""BeatTimeline with known truth: a strap whose clock drifts, notifying once a second."""

import numpy as np
import pytest

from wearsdk.drivers.heart_rate import BeatTimeline


def simulate(
    timeline: BeatTimeline, *, drift_ppm: float, hours: float, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Beats placed and their true times; notifications every strap second, 7.5-57.5 ms late."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 / 0.8)
    rr_true = 0.8 + 0.1 * np.sin(np.arange(n) / 20) + rng.normal(0, 0.03, n)
    beats_true = 10.0 + np.cumsum(rr_true)
    rr_strap = rr_true * (1 + drift_ppm * 1e-6)  # measured on the strap's clock
    placed, truth, gaps = [], [], 0
    t_note, i = 10.0, 0
    while i < n - 5:
        t_note += 1.0 / (1 + drift_ppm * 1e-6)
        j = int(np.searchsorted(beats_true, t_note, side="right"))
        if j == i:
            continue
        arrival = t_note + 0.0075 + rng.uniform(0, 0.05)
        beats, gap = timeline.place(tuple(rr_strap[i:j]), arrival)
        gaps += gap is not None
        placed.append(beats)
        truth.append(beats_true[i:j])
        i = j
    return np.concatenate(placed), np.concatenate(truth), gaps


@pytest.mark.parametrize("drift_ppm", [-100.0, 0.0, 100.0])
def test_a_drifting_strap_clock_does_not_walk_the_beats_away(drift_ppm: float) -> None:
    timeline = BeatTimeline()
    placed, truth, gaps = simulate(timeline, drift_ppm=drift_ppm, hours=2.0, seed=1)
    err = placed - truth
    assert gaps == 0
    assert np.all(np.diff(placed) > 0)
    assert timeline.drift_ppm == pytest.approx(drift_ppm, abs=10)
    # late by the link and by the shortest beat-to-notification time seen, never by much more;
    # early by at most what the drift moved the chain while it was being learnt
    late = err[truth > truth[-1] - 600]
    assert -0.04 < np.median(late) < 0.03
    assert np.abs(np.median(late) - np.median(err[(truth > 3600) & (truth < 4200)])) < 0.01


def test_without_the_rate_fit_a_slow_strap_walks_away() -> None:
    """The baseline the fit fixes: chaining raw RR sums of a -100 ppm strap."""
    placed, truth, _ = simulate(BeatTimeline(rate_fit_s=1e12), drift_ppm=-100.0, hours=2.0, seed=1)
    assert np.median((placed - truth)[truth > truth[-1] - 600]) < -0.5
