"""Butterworth design and filter state, in numpy, without importing ``scipy.signal``.

``import scipy.signal`` costs ~0.8 s of CPU (it loads ``scipy.stats``, ``scipy.interpolate``,
``scipy.optimize``...), more than the processing of a 20-minute replay: the pipeline needs
three small things from it, ported here step for step from scipy 1.17 (``buttap``,
``lp2*_zpk``, ``bilinear_zpk``, ``zpk2sos`` with ``nearest`` pairing, ``sosfilt_zi``), so
the coefficients equal ``scipy.signal.butter(..., output="sos")`` bit for bit
(``tests/signals/test_iir.py`` checks a grid of kinds, orders and cutoffs), and the compiled
kernel behind ``scipy.signal.sosfilt``, loaded from its file without the package's
``__init__``. Anything that does not load falls back to ``scipy.signal`` itself.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["butter_zpk_sos", "sosfilt_kernel", "sosfilt_zi"]

_F = npt.NDArray[np.float64]
_C = npt.NDArray[np.complex128]


def _poly(zeros: _C | _F) -> Any:
    """As scipy's ``_polyutils.poly``: the monic polynomial of ``zeros`` (real when they pair)."""
    seq = np.atleast_1d(np.asarray(zeros))
    if seq.shape[0] == 0:
        return np.asarray(1.0, dtype=np.real(seq).dtype)
    a = np.ones((1,), dtype=seq.dtype)
    one = np.ones_like(seq[0])
    for zero in seq:
        a = np.convolve(a, np.stack((one, -zero)), mode="full")
    if np.iscomplexobj(a):
        roots = np.asarray(seq, dtype=np.complex128)
        if np.all(np.sort(np.imag(roots)) == np.sort(np.imag(np.conj(roots)))):
            a = np.asarray(np.real(a), copy=True)
    return a


def _single_section(z: list[Any], p: list[Any]) -> _F:
    sos = np.zeros(6)
    b = np.atleast_1d(_poly(np.asarray(z)))
    a = np.atleast_1d(_poly(np.asarray(p)))
    sos[3 - len(b) : 3] = b
    sos[6 - len(a) : 6] = a
    return sos


def _cplxreal(z: Any) -> tuple[Any, Any]:
    """As scipy's ``_cplxreal``: one of each conjugate pair (sorted) and the real values."""
    z = np.atleast_1d(z)
    if z.size == 0:
        return z, z
    tol = 100 * np.finfo((1.0 * z).dtype).eps
    z = z[np.lexsort((abs(z.imag), z.real))]
    real_indices = abs(z.imag) <= tol * abs(z)
    zr = z[real_indices].real
    if len(zr) == len(z):
        return np.array([]), zr
    z = z[~real_indices]
    zp = z[z.imag > 0]
    zn = z[z.imag < 0]
    same_real = np.diff(zp.real) <= tol * abs(zp[:-1])
    diffs = np.diff(np.concatenate(([0], same_real, [0])))
    run_starts = np.nonzero(diffs > 0)[0]
    run_stops = np.nonzero(diffs < 0)[0]
    for start, stop in zip(run_starts, run_stops + 1, strict=True):
        for chunk in (zp[start:stop], zn[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    return (zp + zn.conj()) / 2, zr


def _nearest(fro: Any, to: Any, which: str) -> int:
    order = np.argsort(np.abs(fro - to))
    if which == "any":
        return int(order[0])
    mask = np.isreal(fro[order])
    if which == "complex":
        mask = ~mask
    return int(order[np.nonzero(mask)[0][0]])


def _zpk2sos(z: Any, p: Any, k: float) -> _F:
    """As scipy's ``zpk2sos`` for a digital filter, ``nearest`` pairing."""
    p = np.concatenate((p, np.zeros(max(len(z) - len(p), 0))))
    z = np.concatenate((z, np.zeros(max(len(p) - len(z), 0))))
    n_sections = (max(len(p), len(z)) + 1) // 2
    if len(p) % 2 == 1:
        p = np.concatenate((p, [0.0]))
        z = np.concatenate((z, [0.0]))
    z = np.concatenate(_cplxreal(z))
    p = np.concatenate(_cplxreal(p))

    def worst(q: Any) -> int:  # the closest to the unit circle
        return int(np.argmin(np.abs(1 - np.abs(q))))

    sos = np.zeros((n_sections, 6))
    for si in range(n_sections - 1, -1, -1):
        i = worst(p)
        p1 = p[i]
        p = np.delete(p, i)
        if np.isreal(p1) and np.isreal(p).sum() == 0:
            j = _nearest(z, p1, "real")
            z1 = z[j]
            z = np.delete(z, j)
            sos[si] = _single_section([z1, 0], [p1, 0])
        elif (
            len(p) + 1 == len(z)
            and not np.isreal(p1)
            and np.isreal(p).sum() == 1
            and np.isreal(z).sum() == 1
        ):
            j = _nearest(z, p1, "complex")
            z1 = z[j]
            z = np.delete(z, j)
            sos[si] = _single_section([z1, z1.conj()], [p1, p1.conj()])
        else:
            if np.isreal(p1):
                real = np.flatnonzero(np.isreal(p))
                i2 = real[worst(p[real])]
                p2 = p[i2]
                p = np.delete(p, i2)
            else:
                p2 = p1.conj()
            if len(z) > 0:
                j = _nearest(z, p1, "any")
                z1 = z[j]
                z = np.delete(z, j)
                if not np.isreal(z1):
                    sos[si] = _single_section([z1, z1.conj()], [p1, p2])
                elif len(z) > 0:
                    j2 = _nearest(z, p1, "real")
                    z2 = z[j2]
                    z = np.delete(z, j2)
                    sos[si] = _single_section([z1, z2], [p1, p2])
                else:
                    sos[si] = _single_section([z1], [p1, p2])
            else:
                sos[si] = _single_section([], [p1, p2])
    sos[0][:3] *= k
    return sos


def butter_zpk_sos(order: int, wn: _F, kind: str) -> _F:
    """``scipy.signal.butter(order, wn, btype=kind, output="sos")`` for a digital filter.

    Args:
        order: the filter order (>= 1).
        wn: the cutoff(s) as a fraction of Nyquist, in (0, 1) (two for band filters).
        kind: ``lowpass``, ``highpass``, ``bandpass`` or ``bandstop``.
    """
    m = np.arange(-order + 1, order, 2, dtype=np.float64)
    p: Any = -np.exp(1j * np.pi * m / (2 * order))
    z: Any = np.asarray([], dtype=np.float64)
    k: Any = 1.0
    fs = 2.0
    warped = 2 * fs * np.tan(np.pi * wn / fs)
    degree = len(p) - len(z)
    if kind in ("lowpass", "highpass"):
        wo = float(warped.reshape(-1)[0])
        if kind == "lowpass":
            z, p, k = wo * z, wo * p, k * wo**degree
        else:
            k = k * np.real(np.prod(-z) / np.prod(-p))
            z, p = np.concatenate((wo / z, np.zeros(degree))), wo / p
    else:
        bw = float(warped[1] - warped[0])
        wo = float(np.sqrt(warped[0] * warped[1]))
        if kind == "bandpass":
            z_lp = (z * bw / 2).astype(np.complex128)
            p_lp = (p * bw / 2).astype(np.complex128)
            z = np.concatenate((z_lp + np.sqrt(z_lp**2 - wo**2), z_lp - np.sqrt(z_lp**2 - wo**2)))
            p = np.concatenate((p_lp + np.sqrt(p_lp**2 - wo**2), p_lp - np.sqrt(p_lp**2 - wo**2)))
            z = np.concatenate((z, np.zeros(degree)))
            k = k * bw**degree
        else:
            z_hp = ((bw / 2) / z).astype(np.complex128)
            p_hp = ((bw / 2) / p).astype(np.complex128)
            k = k * np.real(np.prod(-z) / np.prod(-p))
            z = np.concatenate((z_hp + np.sqrt(z_hp**2 - wo**2), z_hp - np.sqrt(z_hp**2 - wo**2)))
            p = np.concatenate((p_hp + np.sqrt(p_hp**2 - wo**2), p_hp - np.sqrt(p_hp**2 - wo**2)))
            z = np.concatenate((z, np.full(degree, +1j * wo), np.full(degree, -1j * wo)))
    # bilinear transform (fs = 2)
    degree = len(p) - len(z)
    fs2 = 2.0 * fs
    k_z = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    z_z = np.concatenate(((fs2 + z) / (fs2 - z), -np.ones(degree)))
    p_z = (fs2 + p) / (fs2 - p)
    return _zpk2sos(z_z, p_z, float(np.real(k_z)))


def _lfilter_zi(b: _F, a: _F) -> _F:
    if a[0] != 1.0:
        b = b / a[0]
        a = a / a[0]
    n = max(a.shape[0], b.shape[0])
    companion = np.zeros((n - 1, n - 1), dtype=a.dtype)
    companion[0] = -a[1:] / (1.0 * a[0])
    companion[np.arange(1, n - 1), np.arange(0, n - 2)] = 1
    i_minus_a = np.eye(n - 1) - companion.T
    zi: _F = np.linalg.solve(i_minus_a, b[1:] - a[1:] * b[0])
    return zi


def sosfilt_zi(sos: _F) -> _F:
    """``scipy.signal.sosfilt_zi``: the state of each section for a unit step, steady."""
    zi = np.empty((sos.shape[0], 2), dtype=sos.dtype)
    scale = 1.0
    for section in range(sos.shape[0]):
        b = sos[section, :3]
        a = sos[section, 3:]
        zi[section, ...] = scale * _lfilter_zi(b, a)
        scale *= np.sum(b) / np.sum(a)
    return zi


def _load_kernel() -> Callable[[_F, _F, _F], None] | None:
    """The compiled ``_sosfilt`` of scipy.signal, loaded from its file (None if it moved)."""
    try:
        spec = importlib.util.find_spec("scipy")
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(next(iter(spec.submodule_search_locations))) / "signal"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"_sosfilt{suffix}"
            if path.is_file():
                name = "scipy.signal._sosfilt"
                loader = importlib.machinery.ExtensionFileLoader(name, str(path))
                module_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
                if module_spec is None:
                    return None
                module = importlib.util.module_from_spec(module_spec)
                loader.exec_module(module)
                kernel: Callable[[_F, _F, _F], None] = module._sosfilt
                return kernel
    except Exception:  # a scipy laid out otherwise: the public function instead
        return None
    return None


sosfilt_kernel = _load_kernel()
"""``_sosfilt(sos, x, zi)``: filters ``x`` (``(signals, n)``, C-contiguous, float64) in place
with state ``zi`` (``(signals, sections, 2)``), or None when it could not be loaded."""
