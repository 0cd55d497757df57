"""The voice prosody analyzer: YIN on tones, online equals offline, espeak-ng speech ranked."""

import asyncio
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from wearsdk import Annotation, Bus, Estimate, ScaledClock, Session
from wearsdk.analyzers import AnalyzerContext, VoiceAnalyzer, read_wav
from wearsdk.signals import VoiceProsody, voice_prosody, yin_pitch

pytestmark = pytest.mark.timeout(60)

SR = 16000.0


@pytest.mark.parametrize("f0", [90.0, 150.0, 220.0, 330.0])
def test_yin_finds_the_pitch_of_a_harmonic_tone(f0: float) -> None:
    t = np.arange(int(SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    x += np.random.default_rng(0).normal(0, 0.05, len(t))
    pitch, aper = yin_pitch(x, sampling_rate_hz=SR)
    assert np.nanmedian(pitch) == pytest.approx(f0, rel=0.01)
    assert np.isfinite(pitch).mean() > 0.95
    assert np.median(aper) < 0.15


def test_yin_calls_noise_unvoiced() -> None:
    x = np.random.default_rng(1).normal(0, 0.3, int(SR))
    pitch, _ = yin_pitch(x, sampling_rate_hz=SR)
    assert np.isfinite(pitch).mean() < 0.1


def test_online_blocks_give_the_offline_segments() -> None:
    rng = np.random.default_rng(2)
    t = np.arange(int(5.3 * SR)) / SR
    x = np.sin(2 * np.pi * (120 + 30 * np.sin(t)) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    offline = voice_prosody(x, sampling_rate_hz=SR)
    online = VoiceProsody(sampling_rate_hz=SR)
    got = []
    i = 0
    while i < len(x):
        n = int(rng.integers(1, 4000))
        got += online.step(x[i : i + n])
        i += n
    got += online.flush()
    assert got == offline
    assert [round(f.start_s, 3) for f in got] == [0.0, 2.0, 4.0]


TEXTS = (
    "I am sitting quietly by the window, reading a book about the history of the valley.",
    "Watch out, the car is coming straight at us, get out of the way right now, hurry up!",
    "We should meet again next week and talk about the plans for the garden in the spring.",
)


def espeak(path: Path, text: str, *, wpm: int, pitch: int) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed (apt-get install espeak-ng; .ci/run does it)")
    subprocess.run([exe, "-w", str(path), "-s", str(wpm), "-p", str(pitch), text], check=True)
    return path


EXTRACTORS = ("opensmile", "numpy")
MODEL = {"opensmile": "voice-egemaps-v1", "numpy": "voice-prosody-v1"}


async def voice_arousal(
    wav: Path, extractor: str = "opensmile", calm: Path | None = None
) -> list[Annotation]:
    bus = Bus()
    bus.bind_loop()
    sub = bus.subscribe("analyzer/voice/#")
    analyzer = VoiceAnalyzer(wav, paced=False, extractor=extractor, calm=calm)
    ctx = AnalyzerContext(bus, ScaledClock(50.0), analyzer.analyzer_id, analyzer.modality)
    await analyzer.run(ctx)  # a WAV file ends: the analyzer returns
    bus.close()
    out = []
    async for msg in sub:
        assert isinstance(msg.payload, Annotation)
        out.append(msg.payload)
    x, rate = read_wav(wav)
    assert len(out) + analyzer.silent == int(np.ceil(len(x) / rate / 2.0 - 0.25))
    assert all(a.extras["model"] == MODEL[extractor] for a in out)
    return out


@pytest.mark.parametrize("extractor", EXTRACTORS)
async def test_fast_high_speech_ranks_as_more_aroused_than_slow_low(
    tmp_path: Path, extractor: str
) -> None:
    calm_scores: list[float] = []
    aroused_scores: list[float] = []
    for i, text in enumerate(TEXTS):
        calm_wav = espeak(tmp_path / f"calm{i}.wav", text, wpm=120, pitch=25)
        fast_wav = espeak(tmp_path / f"fast{i}.wav", text, wpm=250, pitch=80)
        calm = await voice_arousal(calm_wav, extractor)
        aroused = await voice_arousal(fast_wav, extractor)
        assert calm
        assert aroused
        assert all(a.modality == "voice" and 0 < a.confidence <= 0.7 for a in calm + aroused)
        calm_mean = float(np.mean([a.arousal for a in calm]))
        aroused_mean = float(np.mean([a.arousal for a in aroused]))
        # the same sentence, faster and higher, is more aroused
        assert aroused_mean > calm_mean + 0.2, (text, calm_mean, aroused_mean)
        calm_scores.append(calm_mean)
        aroused_scores.append(aroused_mean)
        assert aroused[0].extras["f0_median_hz"] > calm[0].extras["f0_median_hz"]
    # and every aroused recording outranks every calm one
    assert min(aroused_scores) > max(calm_scores)


@pytest.mark.parametrize("extractor", EXTRACTORS)
async def test_rate_and_pitch_each_raise_arousal(tmp_path: Path, extractor: str) -> None:
    text = TEXTS[2]
    base = await voice_arousal(espeak(tmp_path / "base.wav", text, wpm=130, pitch=40), extractor)
    faster = await voice_arousal(
        espeak(tmp_path / "faster.wav", text, wpm=260, pitch=40), extractor
    )
    higher = await voice_arousal(
        espeak(tmp_path / "higher.wav", text, wpm=130, pitch=90), extractor
    )

    def mean(anns: list[Annotation]) -> float:
        return float(np.mean([a.arousal for a in anns]))

    assert mean(faster) > mean(base)
    assert mean(higher) > mean(base)


async def test_calibrated_on_the_speakers_calm_voice(tmp_path: Path) -> None:
    # the speaker's calm reference: other sentences, same voice settings as the calm test speech
    reference = espeak(tmp_path / "ref.wav", " ".join(TEXTS[::2]), wpm=130, pitch=30)
    calm = await voice_arousal(
        espeak(tmp_path / "calm.wav", TEXTS[1], wpm=130, pitch=30), calm=reference
    )
    aroused = await voice_arousal(
        espeak(tmp_path / "fast.wav", TEXTS[1], wpm=240, pitch=75), calm=reference
    )
    calm_mean = float(np.mean([a.arousal for a in calm]))
    aroused_mean = float(np.mean([a.arousal for a in aroused]))
    assert abs(calm_mean - 0.5) < 0.2  # the speaker's calm voice sits near the middle
    assert aroused_mean > calm_mean + 0.2
    assert "hammarberg_db" in calm[0].extras  # spectral balance, used once calibrated


def test_the_extractor_in_use_is_named_and_features_are_not_mixed() -> None:
    from wearsdk import ConfigError
    from wearsdk.affect import VoiceArousal
    from wearsdk.signals import EGEMAPS_EXTRACTOR, NUMPY_EXTRACTOR, opensmile_available

    assert opensmile_available()  # the dev extra installs it: the tests run on openSMILE
    t = np.arange(int(3 * SR)) / SR
    x = 0.3 * sum(np.sin(2 * np.pi * k * 140.0 * t) / k for k in range(1, 6))
    (f_smile, _) = voice_prosody(x, sampling_rate_hz=SR, extractor="opensmile")
    (f_numpy, _) = voice_prosody(x, sampling_rate_hz=SR, extractor="numpy")
    assert f_smile.extractor == EGEMAPS_EXTRACTOR
    assert f_numpy.extractor == NUMPY_EXTRACTOR
    # both find the 140 Hz tone
    assert f_smile.f0_median_hz == pytest.approx(140.0, rel=0.03)
    assert f_numpy.f0_median_hz == pytest.approx(140.0, rel=0.01)
    with pytest.raises(ConfigError, match="scores"):
        VoiceArousal(extractor=NUMPY_EXTRACTOR).score(f_smile)
    assert VoiceAnalyzer("x.wav").model.model_id == "voice-egemaps-v1"
    assert VoiceAnalyzer("x.wav", extractor="numpy").model.model_id == "voice-prosody-v1"


def test_silence_gives_no_voice_estimate(tmp_path: Path) -> None:
    import wave

    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(32000, dtype="<i2").tobytes())
    (features,) = voice_prosody(read_wav(path)[0], sampling_rate_hz=16000)
    assert features.voiced_fraction == 0.0


async def test_voice_analyzer_in_a_session_is_fused_in_real_time(tmp_path: Path) -> None:
    wav = espeak(tmp_path / "fast.wav", TEXTS[1], wpm=250, pitch=80)
    clock = ScaledClock(10.0)
    async with Session(clock=clock, pipeline=None) as session:
        estimates = session.estimates()
        voice = session.bus.subscribe("analyzer/voice/#")
        start = clock.now()
        session.add(VoiceAnalyzer(wav, start=start))  # paced: as if spoken live
        # the first 2 s segment (an event; the bound only ends a test whose analyzer hangs:
        # a loaded machine takes seconds to load openSMILE in its thread)
        first = await asyncio.wait_for(voice.__anext__(), 40)
        assert isinstance(first.payload, Annotation)
        # the physiological window that ends with the spoken segment: however long a loaded
        # machine took to judge the segment, it is the one the voice is fused with
        end = first.payload.end
        assert end is not None
        session.bus.publish_nowait(
            "affect/physio",
            Estimate(
                t=clock.now(), window_start=end - 60, window_end=end, arousal=0.2, confidence=0.8
            ),
        )
        est = await asyncio.wait_for(estimates.__anext__(), 5)
    assert est.modalities == ("voice",)
    assert est.sources == ("voice-prosody",)
    assert est.arousal > 0.3  # the aroused voice pulls the calm physiology up
