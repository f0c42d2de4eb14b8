"""Live, linked plots fed by a running Simulation.

The simulation thread hands each chunk to :meth:`LivePlots.push`, which only bins and
buffers (thread-safe, cheap); :meth:`LivePlots.refresh`, called on the session's event loop
a few times per second, moves what accumulated into Bokeh sources. Rasters are binned on
the server into small uint8 images (one row per neuron or per group of neurons), so the
browser draws one image however many spikes there are; populations of at most 100
neurons are drawn as points. All time axes share one range: zoom one, all follow.

Which plots a monitor gets is derived from what the plan records for it (spike raster,
state traces, weight matrix + histogram over time), and any monitor type that declares
``views`` and implements ``stream(...)`` is drawn generically (trace, scalar, histogram,
image): a new monitor needs no studio code.
"""
from __future__ import annotations

import math
import threading

import numpy as np
import panel as pn
from numba import njit
from bokeh.events import RangesUpdate, Reset, SelectionGeometry
from bokeh.models import BasicTickFormatter, BoxSelectTool, ColorBar, PrintfTickFormatter, ColumnDataSource, HoverTool, LinearColorMapper, Range1d
from bokeh.palettes import Category10_10, Greys256, Viridis256
from bokeh.plotting import figure

POINT_LIMIT = 100  # populations up to this size are drawn as points
MAX_ROWS = 250
MAX_BINS = 500
TRACE_POINTS = 20_000  # points a generic trace keeps in the browser (oldest dropped)
RASTER_PALETTE = ["#ffffff"] + list(reversed(Greys256))[70:]
TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"


_FIG_HOOKS: list = []  # set by LivePlots.attach: called with every new time-axis figure


def _fig(title: str, x_range, height: int = 180, y_label: str = "", **kw):
    f = figure(title=title, x_range=x_range, height=height, sizing_mode="stretch_width", tools=TOOLS,
               toolbar_location="right", output_backend="canvas", **kw)
    for hook in _FIG_HOOKS:
        hook(f)
    f.xaxis.axis_label = "time (ms)"
    f.xaxis.formatter = BasicTickFormatter(use_scientific=False)  # 112950, not 1.1295e+5, an hour in
    if y_label:
        f.yaxis.axis_label = y_label
    f.title.text_font_size = "11px"
    f.min_border_left = 50
    return f


class AutoY:
    """A y range set by the server from the data it sends, with some slack.

    Bokeh's ``DataRange1d`` is computed in the browser and sent back to the server whenever it
    moves: with data changing five times a second that was one round trip per figure and
    update, and a second repaint of the figure. This range changes only when the data leaves
    it or fills less than ``shrink`` of it, and stops following once the user zooms or pans
    (``frozen``) until the plots follow the running time again."""

    def __init__(self, pad: float = 0.1, shrink: float = 0.35, floor: float | None = None):
        self.range = Range1d(0.0, 1.0)
        self.pad, self.shrink, self.floor = pad, shrink, floor
        self.frozen = False
        self._set = False

    def update(self, lo: float, hi: float) -> None:
        if self.frozen or not (np.isfinite(lo) and np.isfinite(hi)):
            return
        if self.floor is not None:
            lo = min(lo, self.floor)
        span = hi - lo
        if span <= 0:
            span = max(abs(hi), 1.0) * 0.1
        a, b = self.range.start, self.range.end
        if self._set and a <= lo and hi <= b and (hi - lo) >= self.shrink * (b - a):
            return
        start = lo if self.floor is not None and lo >= self.floor else lo - self.pad * span
        self.range.update(start=float(start), end=float(hi + self.pad * span))
        self._set = True

    def fit(self, values: np.ndarray, follow: bool) -> None:
        """Fit the finite ``values`` shown on the time axis, unless the user has zoomed or panned
        (the plots do not ``follow`` the running time)."""
        self.frozen = not follow
        v = np.asarray(values)
        v = v[np.isfinite(v)]
        if v.size:
            self.update(float(v.min()), float(v.max()))


def _tail(old: np.ndarray, new: np.ndarray, n: int) -> np.ndarray:
    """The last ``n`` rows of ``old`` followed by ``new``: what a streamed source with
    ``rollover=n`` holds in the browser."""
    return (np.concatenate([old, new]) if len(old) else new)[-n:]


class Card:
    """A titled plot card belonging to one or more canvas nodes."""

    follow = True  # the plots follow the running time (LivePlots sets it before each refresh)

    def __init__(self, key: str, nodes: set[str], body, title: str):
        self.key = key
        self.nodes = nodes
        self.title = title
        self.view = pn.Column(body, sizing_mode="stretch_width", margin=(0, 0, 8, 0),
                              styles={"border": "1px solid #e0e0e0", "border-radius": "6px", "padding": "2px"},
                              css_classes=["gf-plot-card", f"gf-card-{key}"])

    def refresh(self, now_ms: float) -> None:  # pragma: no cover - overridden
        pass


@njit(cache=True, nogil=True)
def _bin_spikes(img, total, t_ms, i, bin_ms, group, after_bin):  # pragma: no cover - compiled
    """Adds each spike to its (row group, time bin) pixel of the ring image and to its bin's
    total; spikes in bins <= ``after_bin`` (scrolled out) are left out."""
    nb = img.shape[1]
    for k in range(t_ms.shape[0]):
        b = np.int64(t_ms[k] // bin_ms)
        if b > after_bin:
            col = b % nb
            img[i[k] // group, col] += 1.0
            total[col] += 1.0


class RasterCard(Card):
    """Spikes of one population: a binned image (or points for small populations)."""

    def __init__(self, key, monitor: str, source: str, n: int, window_ms: float, dt: float, x_range, on_select):
        self.n = n
        self.window = window_ms
        self.points = n <= POINT_LIMIT
        self.lock = threading.Lock()
        self.group = max(1, math.ceil(n / MAX_ROWS))
        self.rows = math.ceil(n / self.group)
        self.bin = max(dt, window_ms / MAX_BINS)
        self.bins = int(math.ceil(window_ms / self.bin))
        self.img = np.zeros((self.rows, self.bins), np.float32)  # ring buffer over time bins
        self.last_bin = -1
        self.total_bins = np.zeros(self.bins, np.float64)  # spikes per bin (for the rate)
        self.rate_t, self.rate_v = [], []
        self.pending_pts: list = []
        self.dirty = False
        f = _fig(f"{monitor}: spikes of {source} ({n} neurons" + (f", {self.group} per row)" if self.group > 1 else ")"),
                 x_range, height=220, y_label="neuron")
        f.y_range = Range1d(0, n)
        if self.points:
            self.src = ColumnDataSource({"t": [], "i": []}, name=f"gf-raster-{monitor}")
            f.scatter("t", "i", source=self.src, size=2.5, color="#263238", marker="square")
        else:
            self.mapper = LinearColorMapper(palette=RASTER_PALETTE, low=0, high=1)
            self.src = ColumnDataSource({"image": [np.zeros((2, 2), np.uint8)], "x": [0.0], "y": [0.0],
                                         "dw": [window_ms], "dh": [float(n)]}, name=f"gf-raster-{monitor}")
            f.image("image", source=self.src, x="x", y="y", dw="dw", dh="dh", color_mapper=self.mapper)
            f.grid.visible = False  # under the opaque image: never seen, but drawn at every update
        f.add_tools(BoxSelectTool(dimensions="height"))
        self.sel_src = ColumnDataSource({"left": [], "right": [], "bottom": [], "top": []})
        f.quad(left="left", right="right", bottom="bottom", top="top", source=self.sel_src, fill_alpha=0.12,
               fill_color="#1976d2", line_color="#1976d2")
        f.on_event(SelectionGeometry, lambda ev: on_select(source, ev.geometry))
        self.fig = f
        self.source = source
        super().__init__(key, {monitor, source}, pn.pane.Bokeh(f, sizing_mode="stretch_width"),
                         f"spikes of {source}")

    def push(self, t_ms: np.ndarray, i: np.ndarray, t_end: float) -> None:
        with self.lock:
            end_bin = int(t_end // self.bin)
            if end_bin - self.last_bin >= self.bins:
                self.img[:] = 0
                self.total_bins[:] = 0
            elif end_bin > self.last_bin:
                new = np.arange(self.last_bin + 1, end_bin + 1) % self.bins
                self.img[:, new] = 0
                self.total_bins[new] = 0
            self.last_bin = max(self.last_bin, end_bin)
            if len(t_ms):
                # on the simulation thread, between kernel calls: compiled and without the GIL
                # (np.add.at took ~2 ms per chunk of COBA's excitatory spikes, 10 % of a live run)
                _bin_spikes(self.img, self.total_bins, np.asarray(t_ms, np.float64), np.asarray(i, np.int64),
                            float(self.bin), int(self.group), end_bin - self.bins)
                if self.points:
                    self.pending_pts.append((t_ms, i))
            self.dirty = True

    def rates(self):
        """Population rate per bin (Hz) over the visible window: (t_ms, rate)."""
        with self.lock:
            if self.last_bin < 0:
                return np.zeros(0), np.zeros(0)
            first = max(0, self.last_bin - self.bins + 1)
            bins = np.arange(first, self.last_bin + 1)
            vals = self.total_bins[bins % self.bins] / (self.n * self.bin * 1e-3)
            return (bins + 0.5) * self.bin, vals

    def refresh(self, now_ms: float) -> None:
        with self.lock:
            if not self.dirty:
                return
            self.dirty = False
            start_bin = self.last_bin - self.bins + 1
            if self.points:
                pts = self.pending_pts
                self.pending_pts = []
                img = None
            else:
                order = (np.arange(start_bin, self.last_bin + 1)) % self.bins
                img = self.img[:, order]
        x0 = start_bin * self.bin
        if self.points:
            if pts:
                t = np.concatenate([p[0] for p in pts])
                i = np.concatenate([p[1] for p in pts])
                keep_from = now_ms - self.window
                old_t = np.asarray(self.src.data["t"])
                old_i = np.asarray(self.src.data["i"])
                m = old_t >= keep_from
                self.src.data = {"t": np.concatenate([old_t[m], t]), "i": np.concatenate([old_i[m], i + 0.5])}
            return
        top = float(np.percentile(img[img > 0], 99)) if (img > 0).any() else 1.0
        u8 = np.clip(img * (255.0 / max(top, 1.0)), 0, 255).astype(np.uint8)
        self.mapper.high = 255
        self.src.data = {"image": [u8], "x": [x0], "y": [0.0], "dw": [self.bins * self.bin],
                         "dh": [float(self.rows * self.group)]}

    def select(self, lo: int | None, hi: int | None) -> None:
        if lo is None:
            self.sel_src.data = {"left": [], "right": [], "bottom": [], "top": []}
        else:
            r = self.fig.x_range
            self.sel_src.data = {"left": [-1e12], "right": [1e12], "bottom": [lo], "top": [hi]}
            _ = r


class RatesCard(Card):
    """Population rates of every spiking population (from rasters where monitored, else chunk counts)."""

    def __init__(self, key, pops: dict[str, int], rasters: dict[str, RasterCard], x_range, window_ms: float = 1000.0):
        self.pops = pops
        self.window = window_ms
        self.rasters = rasters
        self.lock = threading.Lock()
        self.counts: dict[str, list] = {p: [] for p in pops if p not in rasters}
        # what the browser holds per population: the newest points, streamed (see refresh)
        self.keep = {p: (rasters[p].bins if p in rasters else 2000) for p in pops}
        self.sent = {p: -math.inf for p in pops}
        self.shown = {p: (np.zeros(0), np.zeros(0)) for p in pops}
        self.auto = AutoY(floor=0.0)
        f = _fig("population rates", x_range, height=170, y_label="rate (Hz)", y_range=self.auto.range)
        self.srcs = {}
        for k, p in enumerate(pops):
            src = ColumnDataSource({"t": [], "r": []})
            f.line("t", "r", source=src, color=Category10_10[k % 10], legend_label=p, line_width=1.5)
            self.srcs[p] = src
        f.legend.location = "top_left"
        f.legend.label_text_font_size = "10px"
        f.legend.click_policy = "hide"
        f.add_tools(HoverTool(tooltips=[("t", "@t{0.0} ms"), ("rate", "@r{0.0} Hz")]))
        self.fig = f
        super().__init__(key, set(pops), pn.pane.Bokeh(f, sizing_mode="stretch_width"), "population rates")

    def push_counts(self, t0: float, t1: float, counts: dict) -> None:
        with self.lock:
            for p, c in counts.items():
                if p in self.counts and t1 > t0:
                    self.counts[p].append(((t0 + t1) / 2, c / (self.pops[p] * (t1 - t0) * 1e-3)))
                    del self.counts[p][:-2000]

    def refresh(self, now_ms: float) -> None:
        """Stream the points completed since the last refresh. Replacing the whole series made
        Bokeh rebuild the legend (DOM nodes and canvases) and re-lay out the figure each time."""
        top = 0.0
        for p, src in self.srcs.items():
            if p in self.rasters:
                t, r = self.rasters[p].rates()
                t, r = t[:-1], r[:-1]  # the newest bin is still filling
            else:
                with self.lock:
                    pts = list(self.counts[p])
                t = np.array([x for x, _ in pts], float)
                r = np.array([y for _, y in pts], float)
            new = t > self.sent[p]
            if new.any():
                tn, rn = t[new], r[new]
                src.stream({"t": tn, "r": rn}, rollover=self.keep[p])
                self.sent[p] = float(tn[-1])
                st, sr = self.shown[p]
                self.shown[p] = (_tail(st, tn, self.keep[p]), _tail(sr, rn, self.keep[p]))
            st, sr = self.shown[p]
            visible = sr[(st >= now_ms - self.window) & np.isfinite(sr)]
            if len(visible):
                top = max(top, float(visible.max()))
        self.auto.fit(np.array([0.0, top if top > 0 else 1.0]), self.follow)


class TraceCard(Card):
    """State variables of chosen neurons (one figure per variable, one line per neuron)."""

    def __init__(self, key, monitor: str, source: str, variables: list[str], neurons: np.ndarray, units: dict,
                 window_ms: float, x_range):
        self.window = window_ms
        self.lock = threading.Lock()
        self.variables = variables
        self.neurons = np.asarray(neurons)
        self.buf_t: list = []
        self.buf_v: dict[str, list] = {v: [] for v in variables}
        self.figs = []
        self.renderers: dict[str, list] = {}
        self.k = min(len(self.neurons), 20)  # lines drawn: the first 20 recorded neurons
        self.src = ColumnDataSource({"t": [], **{f"{v}_{k}": [] for v in variables for k in range(self.k)}})
        self.auto = {v: AutoY() for v in variables}
        self.shown: dict[str, np.ndarray] = {v: np.zeros((0, self.k), np.float32) for v in variables}
        for v in variables:
            f = _fig(f"{monitor}: {v} of {source}", x_range, height=150, y_label=f"{v} ({units.get(v, '')})",
                     y_range=self.auto[v].range)
            rs = []
            for c in range(self.k):
                rs.append(f.line("t", f"{v}_{c}", source=self.src, color=Category10_10[c % 10], line_width=1.2,
                                 alpha=0.85))
            self.renderers[v] = rs
            self.figs.append(f)
        self.dirty = False
        self.stride = None
        self.rollover = None
        self.phase = 0
        self.carry_t = np.zeros(0)
        self.carry_v = {v: np.zeros((0, self.k)) for v in variables}
        self.source = source
        super().__init__(key, {monitor, source}, pn.Column(*[pn.pane.Bokeh(f, sizing_mode="stretch_width")
                                                              for f in self.figs], sizing_mode="stretch_width"),
                         f"state of {source}")

    def push(self, t_ms: np.ndarray, values: dict) -> None:
        if not len(t_ms):
            return
        with self.lock:
            self.buf_t.append(t_ms)
            for v in self.variables:
                self.buf_v[v].append(values[v][:, : self.k])
            self.dirty = True

    def refresh(self, now_ms: float) -> None:
        """Send only the new samples of the visible window (streamed, rolled over at the window),
        at most ~800 per window, values as float32: a fast run hands in many windows between
        two refreshes, and all but the newest would roll out of the browser's data at once."""
        with self.lock:
            if not self.dirty:
                return
            self.dirty = False
            t = np.concatenate(self.buf_t)
            vals = {v: np.concatenate(self.buf_v[v]) for v in self.variables}
            self.buf_t = []
            self.buf_v = {v: [] for v in self.variables}
        if not len(t):
            return
        if self.stride is None:
            dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
            self.stride = max(1, int(round(self.window / 800.0 / max(dt, 1e-9))))
            self.rollover = int(self.window / (dt * self.stride)) + 1
        t_all = np.concatenate([self.carry_t, t]) if len(self.carry_t) else t
        x_all = {v: (np.concatenate([self.carry_v[v], vals[v]]) if len(self.carry_t) else vals[v])
                 for v in self.variables}
        first = self.phase
        span = self.stride * self.rollover
        if len(t_all) - first > span:  # older samples would roll out at once: skip them, keeping the stride
            first += (len(t_all) - first - span) // self.stride * self.stride
        keep_idx = np.arange(first, len(t_all), self.stride)
        data = {"t": t_all[keep_idx]}
        for v in self.variables:
            x = x_all[v][keep_idx].astype(np.float32)
            for c in range(self.k):
                data[f"{v}_{c}"] = np.ascontiguousarray(x[:, c])
            self.shown[v] = _tail(self.shown[v], x, self.rollover)
            self.auto[v].fit(self.shown[v], self.follow)
        nxt = keep_idx[-1] + self.stride if len(keep_idx) else first
        self.carry_t = t_all[nxt:] if nxt < len(t_all) else t_all[:0]
        self.carry_v = {v: x_all[v][nxt:] for v in self.variables}
        self.phase = 0
        if len(data["t"]):
            self.src.stream(data, rollover=self.rollover)

    def select(self, lo, hi) -> None:
        for v, rs in self.renderers.items():
            for c, r in enumerate(rs):
                inside = lo is None or (lo <= self.neurons[c] < hi)
                r.glyph.line_width = 2.5 if (lo is not None and inside) else 1.2
                r.glyph.line_alpha = 0.95 if inside else 0.15


class WeightCard(Card):
    """A projection's weights: the matrix (latest snapshot) and the histogram over time."""

    def __init__(self, key, monitor: str, projection: str, pre: np.ndarray, post: np.ndarray, n_pre: int,
                 n_post: int, x_range):
        self.lock = threading.Lock()
        self.pre, self.post = pre, post
        self.n_pre, self.n_post = n_pre, n_post
        self.gp = max(1, math.ceil(n_pre / 200))
        self.gq = max(1, math.ceil(n_post / 200))
        self.shape = (math.ceil(n_post / self.gq), math.ceil(n_pre / self.gp))
        self.snaps: list = []
        self.latest = None
        self.edges = None
        self.dirty = False
        self.projection = projection
        m = figure(title=f"{monitor}: weights of {projection} (post × pre" + (
            f", blocks of {self.gq}×{self.gp})" if self.gp * self.gq > 1 else ")"), height=260, width=300,
            tools="pan,wheel_zoom,box_zoom,reset,save,hover", x_range=Range1d(0, n_pre), y_range=Range1d(0, n_post),
            tooltips=[("pre", "$x{0}"), ("post", "$y{0}"), ("w", "@image")], output_backend="canvas")
        m.xaxis.axis_label = "presynaptic neuron"
        m.yaxis.axis_label = "postsynaptic neuron"
        m.xaxis.ticker.desired_num_ticks = 3
        m.yaxis.ticker.desired_num_ticks = 4
        m.title.text_font_size = "11px"
        self.mmap = LinearColorMapper(palette=Viridis256, nan_color="#f5f5f5")
        self.msrc = ColumnDataSource({"image": [np.full((2, 2), np.nan)], "x": [0], "y": [0], "dw": [n_pre],
                                     "dh": [n_post]})
        m.image("image", source=self.msrc, x="x", y="y", dw="dw", dh="dh", color_mapper=self.mmap)
        m.add_layout(ColorBar(color_mapper=self.mmap, width=8, formatter=PrintfTickFormatter(format="%.3g")), "right")
        self.sel_src = ColumnDataSource({"left": [], "right": [], "bottom": [], "top": []})
        m.quad(left="left", right="right", bottom="bottom", top="top", source=self.sel_src, fill_alpha=0.0,
               line_color="#d32f2f", line_width=2)
        h = _fig(f"{monitor}: weight histogram over time", x_range, height=260, y_label="weight")
        self.hmap = LinearColorMapper(palette=Viridis256, low=0)
        self.hsrc = ColumnDataSource({"image": [np.zeros((2, 2))], "x": [0], "y": [0], "dw": [1], "dh": [1]})
        h.image("image", source=self.hsrc, x="x", y="y", dw="dw", dh="dh", color_mapper=self.hmap)
        self.lsrc = ColumnDataSource({"t": [], "mean": []})
        h.line("t", "mean", source=self.lsrc, color="#ff7043", line_width=1.5, legend_label="mean")
        h.legend.label_text_font_size = "10px"
        self.mfig, self.hfig = m, h
        super().__init__(key, {monitor, projection}, pn.Row(pn.pane.Bokeh(m), pn.pane.Bokeh(h, sizing_mode="stretch_width"),
                                                             sizing_mode="stretch_width"), f"weights of {projection}")

    def push(self, snaps: list) -> None:
        with self.lock:
            for t, w in snaps:
                if self.edges is None:
                    lo, hi = float(np.min(w)) if len(w) else 0.0, float(np.max(w)) if len(w) else 1.0
                    pad = 0.05 * (hi - lo) + (1e-6 if hi == lo else 0.0) + (0.5 * abs(hi) if hi == lo else 0.0)
                    self.edges = np.linspace(lo - pad, hi + pad, 41)
                counts, _ = np.histogram(np.clip(w, self.edges[0], self.edges[-1]), self.edges)
                self.snaps.append((t, counts, float(np.mean(w)) if len(w) else 0.0))
                del self.snaps[:-400]
                self.latest = w
            self.dirty = True

    def refresh(self, now_ms: float) -> None:
        with self.lock:
            if not self.dirty or self.latest is None:
                return
            self.dirty = False
            w = self.latest
            snaps = list(self.snaps)
        # matrix: mean weight per block, NaN where there is no synapse
        S = np.zeros(self.shape)
        C = np.zeros(self.shape)
        np.add.at(S, (self.post // self.gq, self.pre // self.gp), w)
        np.add.at(C, (self.post // self.gq, self.pre // self.gp), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            M = np.where(C > 0, S / np.maximum(C, 1), np.nan)
        finite = M[np.isfinite(M)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            if hi - lo <= 1e-9 * max(abs(hi), 1.0):  # all equal: a readable bar around the value
                pad = 0.1 * abs(hi) if hi != 0 else 1.0
                lo, hi = lo - pad, hi + pad
            self.mmap.low, self.mmap.high = lo, hi
        self.msrc.data = {"image": [M], "x": [0], "y": [0], "dw": [self.shape[1] * self.gp],
                          "dh": [self.shape[0] * self.gq]}
        ts = np.array([s[0] for s in snaps])
        H = np.stack([s[1] for s in snaps], axis=1).astype(float)  # bins x time
        dt = float(np.median(np.diff(ts))) if len(ts) > 1 else 1.0
        self.hmap.high = float(max(H.max(), 1))
        self.hsrc.data = {"image": [H], "x": [ts[0] - dt / 2], "y": [self.edges[0]], "dw": [dt * len(ts)],
                          "dh": [self.edges[-1] - self.edges[0]]}
        self.lsrc.data = {"t": ts, "mean": np.array([s[2] for s in snaps])}

    def select(self, pop: str, lo, hi, post_pop: str) -> None:
        if lo is None or pop != post_pop:
            self.sel_src.data = {"left": [], "right": [], "bottom": [], "top": []}
        else:
            self.sel_src.data = {"left": [0], "right": [self.n_pre], "bottom": [lo], "top": [hi]}


class GenericCard(Card):
    """Views declared by a monitor type: trace, scalar, histogram or image."""

    def __init__(self, key, monitor: str, views: list[dict], x_range, window_ms: float = 1000.0):
        self.lock = threading.Lock()
        self.window = window_ms
        self.views = views
        self.pending: list = []
        self.items = {}
        objs = []
        for v in views:
            kind, name = v["kind"], v["name"]
            title = f"{monitor}: {v.get('title', name)}"
            if kind == "trace":
                auto = AutoY()
                f = _fig(title, x_range, height=150, y_label=v.get("y_label", name), y_range=auto.range)
                src = ColumnDataSource({"t": [], "y": []}, name=f"gf-trace-{monitor}-{name}")
                f.line("t", "y", source=src, line_width=1.5, color="#1565c0")
                f.scatter("t", "y", source=src, size=4, color="#1565c0")  # sparse traces show from the first point
                # what the browser holds (for the y range): (t, y), at most TRACE_POINTS
                self.items[name] = ("trace", src, [auto, np.zeros(0), np.zeros(0)])
                objs.append(pn.pane.Bokeh(f, sizing_mode="stretch_width"))
            elif kind == "scalar":
                ind = pn.indicators.Number(label=title, value=0.0, format="{value:.4g}", font_size="20pt",
                                           title_size="10pt")
                self.items[name] = ("scalar", ind, None)
                objs.append(ind)
            elif kind == "histogram":
                f = figure(title=title, height=180, sizing_mode="stretch_width", tools="save,reset")
                src = ColumnDataSource({"left": [], "right": [], "top": []})
                f.quad(left="left", right="right", bottom=0, top="top", source=src, fill_color="#1565c0", alpha=0.7)
                self.items[name] = ("histogram", src, None)
                objs.append(pn.pane.Bokeh(f, sizing_mode="stretch_width"))
            else:  # image / matrix
                f = figure(title=title, height=220, width=260, tools="save,reset,hover")
                mp = LinearColorMapper(palette=Viridis256)
                src = ColumnDataSource({"image": [np.zeros((2, 2))], "x": [0], "y": [0], "dw": [1], "dh": [1]})
                f.image("image", source=src, x="x", y="y", dw="dw", dh="dh", color_mapper=mp)
                self.items[name] = ("image", src, mp)
                objs.append(pn.pane.Bokeh(f))
        super().__init__(key, {monitor}, pn.Column(*objs, sizing_mode="stretch_width"), monitor)

    def push(self, payload: dict) -> None:
        with self.lock:
            self.pending.append(payload)

    def refresh(self, now_ms: float) -> None:
        with self.lock:
            pend, self.pending = self.pending, []
        traced: set[str] = set()
        for payload in pend:
            for name, val in payload.items():
                if name not in self.items:
                    continue
                kind, obj, extra = self.items[name]
                if kind == "trace":
                    # only the new points travel to the browser
                    t, y = np.atleast_1d(np.asarray(val["t_ms"], float)), np.atleast_1d(np.asarray(val["y"], float))
                    obj.stream({"t": t, "y": y}, rollover=TRACE_POINTS)
                    extra[1] = _tail(extra[1], t, TRACE_POINTS)
                    extra[2] = _tail(extra[2], y, TRACE_POINTS)
                    traced.add(name)
                elif kind == "scalar":
                    obj.value = float(val["value"])
                elif kind == "histogram":
                    e = np.asarray(val["edges"])
                    obj.data = {"left": e[:-1], "right": e[1:], "top": np.asarray(val["counts"])}
                else:
                    z = np.asarray(val["z"], float)
                    if z.size:
                        extra.low, extra.high = float(np.nanmin(z)), float(np.nanmax(z) + 1e-12)
                    obj.data = {"image": [z], "x": [0], "y": [0], "dw": [z.shape[1]], "dh": [z.shape[0]]}
        for name in traced:  # the y range of what the time axis shows
            auto, t, y = self.items[name][2]
            auto.fit(y[t >= now_ms - self.window], self.follow)


def arrange(cards: list[Card], plots: list[str]) -> list[Card]:
    """The design's ``views.plots`` first, in its order, then every other card as built."""
    first: list[Card] = []
    for nid in plots:
        first += [c for c in cards if nid in c.nodes and c not in first]
    return first + [c for c in cards if c not in first]


class LivePlots(pn.viewable.Viewer):
    """All plots of one simulation; rebuilt when a new simulation is attached."""

    def __init__(self, **params):
        super().__init__(**params)
        self.col = pn.Column(pn.pane.Markdown("Plots appear here when the design runs.", margin=(4, 8)),
                             sizing_mode="stretch_width", css_classes=["gf-plots"])
        self.cards: list[Card] = []
        self.x_range = Range1d(0.0, 1000.0)
        self.follow = pn.widgets.Checkbox(value=True, label="follow the running time", margin=(4, 8),
                                          css_classes=["gf-follow"])
        self._set_range = (0.0, 1000.0)
        self.now_ms = 0.0
        self.selection: dict[str, tuple] = {}
        self.window_ms = 1000.0

    def __panel__(self):
        return self.col

    def attach(self, sim) -> None:
        """Build the cards for ``sim`` (called on the session thread)."""
        self.window_ms = float(min(2000.0, max(200.0, sim.design.meta.get("duration_ms", 1000.0))))
        self.x_range = Range1d(0.0, self.window_ms)
        self._set_range = (0.0, self.window_ms)
        self.follow.value = True
        _FIG_HOOKS[:] = [self._hook_figure]
        for old in self.cards:  # detached cards give up their names: a name finds the live plot only
            srcs = [getattr(old, "src", None)] + [it[1] for it in getattr(old, "items", {}).values()]
            for src in srcs:
                if isinstance(src, ColumnDataSource) and src.name:
                    src.name = None
        self.cards = []
        rasters: dict[str, RasterCard] = {}
        plan = sim.plan
        def own_views(node_id):  # a monitor drawn from its declared views records for itself
            return bool(getattr(sim.graph.nodes[node_id].type, "views", ()))

        for r in plan.recorders:
            if r.kind == "spikes" and r.info.get("keep", True) and not own_views(r.node):
                c = RasterCard(f"r-{r.node}", r.node, r.info["source"], r.info["n_src"], self.window_ms, sim.dt,
                               self.x_range, self._on_select)
                rasters.setdefault(r.info["source"], c)
                self.cards.append(c)
        pops = {nid: src.n for nid, src in plan.spike_sources.items()
                if sim.graph.nodes[nid].type.family() == "neuron"}
        if pops:
            self.cards.insert(len(rasters), RatesCard("rates", pops, rasters, self.x_range, self.window_ms))
        for r in plan.recorders:
            if r.kind == "state":
                node = sim.graph.nodes[r.info["source"]]
                units = getattr(node.type, "state_units", {})
                self.cards.append(TraceCard(f"s-{r.node}", r.node, r.info["source"], r.info["variables"],
                                            r.info["neurons"], units, self.window_ms, self.x_range))
            elif r.kind == "weights" and not own_views(r.node):
                src = r.info["source"]
                pre, post, _ = sim.connectivity(src)
                info = plan.node_info[src]
                sub = r.info["subset"]
                self.cards.append(WeightCard(f"w-{r.node}", r.node, src, pre[sub], post[sub], info["n_pre"],
                                             info["n_post"], self.x_range))
        for node in sim.graph.nodes.values():
            views = list(getattr(node.type, "views", ()) or ())
            if views and hasattr(node.type, "stream"):
                self.cards.append(GenericCard(f"g-{node.id}", node.id, views, self.x_range, self.window_ms))
        self.cards = arrange(self.cards, (getattr(sim.design, "doc", {}).get("views") or {}).get("plots") or [])
        self._by_key = {c.key: c for c in self.cards}
        _FIG_HOOKS[:] = []
        self.col.objects = ([self.follow] + [c.view for c in self.cards]) if self.cards else [pn.pane.Markdown(
            "This design records nothing: add a monitor node to see plots.", margin=(4, 8))]
        self.now_ms = 0.0
        self._post_of = {src: sim.plan.node_info[src].get("post") for src in sim.plan.node_info
                         if isinstance(sim.plan.node_info.get(src), dict) and "post" in sim.plan.node_info[src]}
        for r in plan.recorders:
            if r.kind == "spikes" and f"r-{r.node}" in self._by_key:
                # prime an empty image so the first refresh draws the axes
                self._by_key[f"r-{r.node}"].push(np.zeros(0), np.zeros(0, np.int64), 0.0)
        for r in plan.recorders:
            if r.kind == "weights" and f"w-{r.node}" in self._by_key:
                snaps_t, W = sim.weights(r.node)
                if len(snaps_t):
                    self._by_key[f"w-{r.node}"].push(list(zip(snaps_t, W)))

    # --- threads -------------------------------------------------------------------------
    def push(self, chunk, sim) -> None:
        """Called on the simulation thread after each chunk: bin and buffer only."""
        self.now_ms = chunk.t_end_ms
        for mid, d in chunk.spikes.items():
            c = self._by_key.get(f"r-{mid}")
            if c is not None:
                c.push(d["t_ms"], d["i"], chunk.t_end_ms)
        rc = self._by_key.get("rates")
        if rc is not None:
            rc.push_counts(chunk.t_start_ms, chunk.t_end_ms, chunk.counts)
        for mid, d in chunk.states.items():
            c = self._by_key.get(f"s-{mid}")
            if c is not None:
                c.push(d["t_ms"], d["values"])
        for mid, snaps in chunk.weights.items():
            c = self._by_key.get(f"w-{mid}")
            if c is not None:
                c.push(snaps)
        for mid, payload in getattr(chunk, "streams", {}).items():
            c = self._by_key.get(f"g-{mid}")
            if c is not None:
                c.push(payload)

    def refresh(self) -> None:
        """Called on the session's event loop a few times per second."""
        now = self.now_ms
        for c in self.cards:
            c.follow = bool(self.follow.value)
            c.refresh(now)
        self.now_ms_shown = now
        if self.follow.value and self.cards:
            end = max(self.window_ms, self.now_ms_shown)
            rng = (end - self.window_ms, end)
            if rng != self._set_range:
                self._set_range = rng
                self.x_range.update(start=rng[0], end=rng[1])

    def _hook_figure(self, fig) -> None:
        """Zooming or panning any time axis stops following; the reset tool follows again."""
        def on_range(ev):
            if ev.x0 is None or ev.x1 is None:
                return
            if abs(ev.x0 - self._set_range[0]) > 1e-6 or abs(ev.x1 - self._set_range[1]) > 1e-6:
                self.follow.value = False

        def on_reset(ev):
            self.follow.value = True

        fig.on_event(RangesUpdate, on_range)
        fig.on_event(Reset, on_reset)

    # --- linking ---------------------------------------------------------------------------
    def _on_select(self, pop: str, geometry: dict) -> None:
        y0, y1 = geometry.get("y0"), geometry.get("y1")
        if y0 is None or y1 is None or abs(y1 - y0) < 1e-9:
            lo = hi = None
        else:
            lo, hi = int(max(0, math.floor(min(y0, y1)))), int(math.ceil(max(y0, y1)))
        self.select_neurons(pop, lo, hi)

    def select_neurons(self, pop: str, lo: int | None, hi: int | None) -> None:
        """Highlight neurons [lo, hi) of ``pop`` in every plot that shows them."""
        self.selection = {pop: (lo, hi)} if lo is not None else {}
        for c in self.cards:
            if isinstance(c, RasterCard):
                c.select(lo, hi) if c.source == pop else c.select(None, None)
            elif isinstance(c, TraceCard):
                c.select(lo, hi) if c.source == pop else c.select(None, None)
            elif isinstance(c, WeightCard):
                c.select(pop, lo, hi, self._post_of.get(c.projection))

    def focus(self, node_id: str) -> None:
        """Bring the cards of a canvas node to the top and mark them."""
        mine = [c for c in self.cards if node_id in c.nodes]
        rest = [c for c in self.cards if node_id not in c.nodes]
        for c in self.cards:
            c.view.styles = {**c.view.styles, "border": "2px solid #1976d2" if c in mine else "1px solid #e0e0e0"}
        if mine:
            self.col.objects = [self.follow] + [c.view for c in mine + rest]
