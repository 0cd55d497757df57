"""The built-in voice prosody analyzer: a WAV file or a microphone to voice arousal.

Audio never leaves the process and is never written: each block is dropped once its segment
is analysed; only the annotations (arousal, confidence, the segment's prosody features) are
published.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from wearsdk._clock import SessionClock
from wearsdk._errors import ConfigError, StreamClosedError, WearError
from wearsdk.affect import VoiceArousal, VoiceReference
from wearsdk.analyzers._base import AnalyzerContext
from wearsdk.signals import (
    EGEMAPS_EXTRACTOR,
    NUMPY_EXTRACTOR,
    ProsodyFeatures,
    VoiceProsody,
)

__all__ = ["MicrophoneInput", "VoiceAnalyzer", "read_wav"]

FloatArray = npt.NDArray[np.float64]


def read_wav(path: str | Path) -> tuple[FloatArray, float]:
    """Read a PCM WAV file as mono floats in [-1, 1] (channels averaged).

    Returns:
        ``(samples, sampling_rate_hz)``.

    Raises:
        WearError: not a PCM WAV file of 8, 16, 24 or 32 bits.
    """
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WearError(f"{path}: not a PCM WAV file ({exc})") from exc
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    else:
        raise WearError(f"{path}: unsupported sample width {width}")
    x = x.reshape(-1, channels).mean(axis=1)
    return x, float(rate)


class MicrophoneInput:
    """Live audio from the default microphone (needs the ``voice`` extra: sounddevice).

    An async context manager and async iterator of ``(t_start, samples)``: ``t_start`` is
    the block's first sample on the session clock (from the arrival time, minus the block's
    duration). The audio callback only hands blocks to a bounded queue; a full queue drops
    the block and counts it in ``dropped``.

    Args:
        clock: the session clock.
        sampling_rate_hz: capture rate.
        block_s: capture block length.
        max_blocks: queue bound.
    """

    def __init__(
        self,
        clock: SessionClock,
        *,
        sampling_rate_hz: float = 16000.0,
        block_s: float = 0.1,
        max_blocks: int = 100,
    ) -> None:
        self.clock = clock
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.block_s = float(block_s)
        self.dropped = 0
        """Blocks dropped because the queue was full."""
        self._queue: asyncio.Queue[tuple[float, FloatArray] | None] = asyncio.Queue(max_blocks)
        self._stream: Any = None

    def _offer(self, item: tuple[float, FloatArray]) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    async def __aenter__(self) -> Self:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:  # OSError: PortAudio missing
            raise ConfigError("the microphone needs the voice extra: wearsdk[voice]") from exc
        loop = asyncio.get_running_loop()

        def callback(indata: Any, frames: int, _time: Any, _status: Any) -> None:
            t_start = self.clock.now() - frames / self.sampling_rate_hz
            block = np.asarray(indata, dtype=np.float64).mean(axis=1).copy()
            loop.call_soon_threadsafe(self._offer, (t_start, block))

        self._stream = sounddevice.InputStream(
            samplerate=self.sampling_rate_hz,
            blocksize=round(self.block_s * self.sampling_rate_hz),
            channels=1,
            dtype="float32",
            callback=callback,
        )
        self._stream.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> tuple[float, FloatArray]:
        if self._stream is None:
            raise StreamClosedError("microphone input is not open")
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item


class VoiceAnalyzer:
    """Voice arousal from prosody, as an in-process analyzer (``session.add``).

    Every ``segment_s`` of audio gives one ``voice`` annotation with arousal and confidence
    (:class:`~wearsdk.affect.VoiceArousal`) and the prosody features in ``extras``; segments
    without enough voice give none (counted in ``silent``). The features are openSMILE's
    eGeMAPS when the ``opensmile`` package is installed (the ``voice`` extra), else numpy
    estimates; the annotation's ``extras["model"]`` says which (``voice-egemaps-v1`` or
    ``voice-prosody-v1``) and ``extras["extractor"]`` names the feature extractor.

    Args:
        audio: a WAV file path, or a :class:`MicrophoneInput` (opened by the analyzer).
        analyzer_id: the analyzer's id.
        segment_s: length of the analysed segments.
        reference: the speaker's calm reference voice (default: population values).
        start: session time of the WAV file's first sample (default: when it starts).
        paced: play a WAV file in session time (as if live); ``False`` analyses it at once.
        extractor: ``"auto"`` (openSMILE if installed), ``"opensmile"`` or ``"numpy"``.
        calm: a WAV file of the speaker's calm speech: its segments set the reference
            (:meth:`~wearsdk.affect.VoiceArousal.calibrate`) before the analysis starts.

    Raises:
        ConfigError: ``extractor="opensmile"`` without openSMILE, or a ``reference`` and a
            ``calm`` recording both given.
    """

    modality = "voice"

    def __init__(
        self,
        audio: str | Path | MicrophoneInput,
        *,
        analyzer_id: str = "voice-prosody",
        segment_s: float = 2.0,
        reference: VoiceReference | None = None,
        start: float | None = None,
        paced: bool = True,
        extractor: str = "auto",
        calm: str | Path | None = None,
    ) -> None:
        if reference is not None and calm is not None:
            raise ConfigError("give a reference or a calm recording, not both")
        if extractor not in ("auto", "opensmile", "numpy"):
            raise ConfigError("extractor must be 'auto', 'opensmile' or 'numpy'")
        installed = importlib.util.find_spec("opensmile") is not None  # cheap: no import yet
        if extractor == "auto":
            extractor = "opensmile" if installed else "numpy"
        elif extractor == "opensmile" and not installed:
            raise ConfigError("the opensmile extractor needs the voice extra: wearsdk[voice]")
        self.extractor = extractor
        """``"opensmile"`` or ``"numpy"``: the feature extractor in use."""
        self.audio = audio
        self.analyzer_id = analyzer_id
        self.segment_s = float(segment_s)
        features = EGEMAPS_EXTRACTOR if extractor == "opensmile" else NUMPY_EXTRACTOR
        self.model = VoiceArousal(reference, extractor=features)
        """The arousal mapping (its ``model_id`` is the annotations' ``model``)."""
        self.calm = calm
        self.start = start
        self.paced = paced
        self.silent = 0
        """Segments without enough voice for an estimate."""

    async def _wav_blocks(self, ctx: AnalyzerContext) -> AsyncIterator[tuple[float, FloatArray]]:
        assert not isinstance(self.audio, MicrophoneInput)
        x, rate = await asyncio.to_thread(read_wav, self.audio)
        t0 = self.start if self.start is not None else ctx.now()
        step = max(1, round(0.1 * rate))
        for i in range(0, len(x), step):
            if self.paced:
                await ctx.sleep(t0 + (i + step) / rate - ctx.now())
            yield t0 + i / rate, x[i : i + step]

    def _prosody(self, rate: float) -> VoiceProsody:
        return VoiceProsody(
            sampling_rate_hz=rate, segment_s=self.segment_s, extractor=self.extractor
        )

    def calibrate(self, calm: str | Path) -> VoiceReference:
        """Set the reference from a WAV file of the speaker's calm speech (blocking).

        Raises:
            WearError: not a PCM WAV file.
            ConfigError: no voiced segment in it.
        """
        x, rate = read_wav(calm)
        prosody = self._prosody(rate)
        return self.model.calibrate([*prosody.step(x), *prosody.flush()])

    async def run(self, ctx: AnalyzerContext) -> None:
        """Analyse the audio and publish voice annotations until it ends (or cancelled)."""
        if self.calm is not None:
            await asyncio.to_thread(self.calibrate, self.calm)
        if isinstance(self.audio, MicrophoneInput):
            async with self.audio as mic:
                await self._analyse(ctx, mic, mic.sampling_rate_hz)
        else:
            _, rate = await asyncio.to_thread(_wav_rate, self.audio)
            await self._analyse(ctx, self._wav_blocks(ctx), rate)

    async def _analyse(
        self,
        ctx: AnalyzerContext,
        blocks: AsyncIterator[tuple[float, FloatArray]],
        rate: float,
    ) -> None:
        prosody = await asyncio.to_thread(self._prosody, rate)  # loads openSMILE: off the loop
        t0: float | None = None
        async for t_start, block in blocks:
            if t0 is None:
                t0 = t_start
            for f in await asyncio.to_thread(prosody.step, block):
                self._publish(ctx, t0, f)
        if t0 is not None:
            for f in prosody.flush():
                self._publish(ctx, t0, f)

    def _publish(self, ctx: AnalyzerContext, t0: float, f: ProsodyFeatures) -> None:
        scored = self.model.score(f)
        if scored is None:
            self.silent += 1
            return
        arousal, confidence = scored
        extras = {
            k: round(v, 4)
            for k, v in (
                ("f0_median_hz", f.f0_median_hz),
                ("f0_sd_st", f.f0_sd_st),
                ("rate_syl_per_s", f.rate_syl_per_s),
                ("energy_db", f.energy_db),
                ("voiced_fraction", f.voiced_fraction),
                ("f0_range_st", f.f0_range_st),
                ("hammarberg_db", f.hammarberg_db),
            )
            if math.isfinite(v)
        }
        ctx.publish(
            t0 + f.start_s,
            t0 + f.end_s,
            arousal=arousal,
            confidence=confidence,
            extras={**extras, "model": self.model.model_id, "extractor": f.extractor},
        )


def _wav_rate(path: str | Path) -> tuple[int, float]:
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes(), float(w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise WearError(f"{path}: not a PCM WAV file ({exc})") from exc
