"""``monitor.activity``: population rate, ISI variability, Fano factor and synchrony, per window."""
from __future__ import annotations

import numpy as np

from engine.params import Num
from engine.registry import register

from .analysis_base import SpikeAnalysisMonitor, trace_views


@register
class ActivityMonitor(SpikeAnalysisMonitor):
    """Population rate, CV of inter-spike intervals, Fano factor and synchrony, one value per window.

    Per window: rate = spikes / (neurons × window); Fano = var/mean of each neuron's counts
    over the window's bins, averaged; synchrony = Golomb's χ of the binned counts (0
    asynchronous, 1 fully synchronous). CV of ISIs: over all intervals since the start (or
    reset), per neuron (running sums: two numbers per neuron), averaged over neurons with at
    least 2 intervals — a window holds too few intervals of a 20 Hz neuron for a CV of its
    own; at the end it equals ``engine.analysis.isi_cv`` on the whole recording. Cost per
    window O(spikes log spikes + bins × neurons).
    """

    type_key = "monitor.activity"
    bin_ms = Num(5.0, bounds=(0, None), inclusive=(False, True), live=False,
                 doc="bin width of the counts (Fano factor, synchrony)")
    traces = ("rate_hz", "cv_isi", "fano", "synchrony")
    views = trace_views([("rate_hz", "population rate", "rate (Hz)"), ("cv_isi", "CV of ISIs", "CV"),
                         ("fano", "Fano factor", "Fano"), ("synchrony", "synchrony (Golomb χ)", "χ")])

    @classmethod
    def measure(cls, node, sim, state, counts, events, t_end_ms):
        from engine.analysis import fano_factor, golomb_chi

        n = counts.shape[1]
        win_s = counts.shape[0] * state.windows.bin_steps * sim.dt * 1e-3
        e = state.extra
        if "last" not in e:
            e.update(last=np.full(n, np.nan), c=np.zeros(n), s1=np.zeros(n), isi=[])
        t, col = events
        if len(t):  # intervals ending in this window, including the one from the previous spike
            order = np.lexsort((t, col))
            ts, js = np.asarray(t, float)[order], np.asarray(col, np.int64)[order]
            first = np.ones(len(ts), bool)
            first[1:] = js[1:] != js[:-1]
            prev = np.where(first, e["last"][js], np.concatenate([[np.nan], ts[:-1]]))
            isi = ts - prev
            ok = np.isfinite(isi)
            np.add.at(e["c"], js[ok], 1.0)
            np.add.at(e["s1"], js[ok], isi[ok])
            e["isi"].append((js[ok], isi[ok]))
            last = np.nonzero(np.append(js[1:] != js[:-1], True))[0]
            e["last"][js[last]] = ts[last]
        with np.errstate(all="ignore"):
            cv = cls._cv(e, n)
            fano = fano_factor(counts) if n else np.zeros(0)
            return {"rate_hz": float(counts.sum()) / max(n * win_s, 1e-12),
                    "cv_isi": float(np.nanmean(cv)) if np.isfinite(cv).any() else np.nan,
                    "fano": float(np.nanmean(fano)) if np.isfinite(fano).any() else np.nan,
                    "synchrony": float(golomb_chi(counts)) if counts.shape[0] > 1 else np.nan}

    @staticmethod
    def _cv(e, n):
        """Per-neuron CV (ddof = 0) from the intervals so far; the squared deviations are
        summed around the current mean, so the intervals are folded into (count, sum, M2)
        with Chan's update instead of being kept."""
        if e["isi"]:
            js = np.concatenate([a for a, _ in e["isi"]])
            isi = np.concatenate([b for _, b in e["isi"]])
            e["isi"] = []
            c_new = np.bincount(js, minlength=n).astype(float)
            s_new = np.bincount(js, weights=isi, minlength=n)
            m_new = np.divide(s_new, c_new, out=np.zeros(n), where=c_new > 0)
            m2_new = np.bincount(js, weights=(isi - m_new[js]) ** 2, minlength=n)
            c_old = e["c"] - c_new
            s_old = e["s1"] - s_new
            m_old = np.divide(s_old, c_old, out=np.zeros(n), where=c_old > 0)
            m2 = e.get("m2", np.zeros(n))
            tot = c_old + c_new
            delta = m_new - m_old
            e["m2"] = m2 + m2_new + np.divide(delta ** 2 * c_old * c_new, tot, out=np.zeros(n), where=tot > 0)
        c, s1, m2 = e["c"], e["s1"], e.get("m2", np.zeros(n))
        mean = np.divide(s1, c, out=np.full(n, np.nan), where=c > 0)
        cv = np.sqrt(np.divide(m2, c, out=np.full(n, np.nan), where=c > 0)) / mean
        cv[(c < 2) | ~(mean > 0)] = np.nan
        return cv
