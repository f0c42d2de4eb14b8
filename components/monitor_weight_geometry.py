"""``monitor.weight_geometry``: the geometry of a projection's weights as it learns."""
from __future__ import annotations

import threading
import weakref

import numpy as np

from engine import rng
from engine.params import Int, Num
from engine.registry import NodeType, Port, register

from .analysis_base import AnalysisQueue, Traces


@register
class WeightGeometryMonitor(NodeType):
    """Weight geometry of a projection, every every_ms: singular-value spectrum and effective
    rank, drift from the first snapshot, the weight change's alignment with a reference
    subspace, the weight histogram, and the weight rows projected on their top two
    principal components (receptive fields separating show as clusters).

    Rows are postsynaptic neurons (their incoming weights over the presynaptic
    population); at most max_rows rows (a fixed random subset) enter the dense matrix, so
    a snapshot costs O(max_rows² × n_pre): singular values and principal components come
    from the eigenvalues of the max_rows × max_rows Gram matrices W Wᵀ (uncentred and
    centred), ten times faster than an SVD of the wide matrix and equal up to rounding
    (relative error ~ ε·s₁²/sᵢ² for the small singular values, which barely move the
    effective rank). The reference basis needs one SVD, of the first snapshot. The reference subspace is spanned by
    the top ref_rank right singular vectors of the first snapshot (for the orthogonal-
    projection rule, "subspace_cosine" near 0 means learning leaves that subspace alone).
    """

    type_key = "monitor.weight_geometry"
    blas_one_thread = True  # its analyses run beside the kernel (see engine.shared_setting)
    ports = (Port("weights", "in", "weights", required=True, doc="projection whose weights are analysed"),)
    every_ms = Num(100.0, bounds=(0, None), inclusive=(False, True), live=False,
                   doc="snapshot interval (the default, 100 ms, is one value per headless chunk)")
    max_rows = Int(128, bounds=(2, None), live=False, doc="postsynaptic neurons in the matrix (fixed random subset)")
    ref_rank = Int(4, bounds=(1, None), live=False, doc="dimension of the reference subspace")
    spectrum_size = Int(32, bounds=(1, None), live=False, doc="singular values shown")
    max_points = Int(100_000, bounds=(1, None), live=False, doc="points kept per trace (oldest dropped beyond)")
    traces = ("effective_rank", "top_singular_value", "drift", "subspace_cosine", "mean_weight")
    views = (
        {"kind": "trace", "name": "effective_rank", "title": "effective rank", "y_label": "rank"},
        {"kind": "trace", "name": "drift", "title": "weight drift ‖W−W₀‖/‖W₀‖", "y_label": "drift"},
        {"kind": "trace", "name": "subspace_cosine", "title": "cosine of ΔW with the reference subspace",
         "y_label": "cos"},
        {"kind": "histogram", "name": "spectrum", "title": "singular values (largest first)"},
        {"kind": "histogram", "name": "histogram", "title": "weight histogram (sampled rows)"},
        {"kind": "image", "name": "pcs", "title": "weight rows on PC1 × PC2"},
    )

    @classmethod
    def build(cls, node, b) -> None:
        proj = b.graph.sources(node.id, "weights")[0]
        info = b.node_info[proj.id]
        every = max(1, int(round(float(node.values["every_ms"]) / b.dt)))
        b.recorder(node.id, "weights", source=proj.id, subset=np.arange(info["n_syn"]), every=every, max_snapshots=1)
        b.node_info[node.id].update(source=proj.id, every_steps=every)

    @classmethod
    def state(cls, node, sim):
        return sim.node_state(node.id, lambda: _GeomState(node, sim, cls.traces))

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        """Snapshots are analysed on the simulation's analysis thread, beside the kernel."""
        st = cls.state(node, sim)
        aq = AnalysisQueue.of(sim)
        for t_ms, w in chunk.weights.get(node.id, []):
            aq.submit(st.analyse, t_ms, w)
        return st.take()

    @classmethod
    def flush(cls, node, sim) -> dict:
        AnalysisQueue.of(sim).wait()
        return cls.state(node, sim).take()

    @classmethod
    def final(cls, node, sim) -> dict:
        st = cls.state(node, sim)
        AnalysisQueue.of(sim).wait()
        st.setup()
        return {"source": st.proj, "rows": int(len(st.rows)), **st.traces.final()}

    @classmethod
    def arrays(cls, node, sim) -> dict:
        st = cls.state(node, sim)
        AnalysisQueue.of(sim).wait()
        out = st.traces.arrays()
        if st.last_s is not None:
            out["singular_values"] = st.last_s
        return out


class _Memo:
    """What a monitor's run state derives from the connectivity, the seed and its own
    parameters (the sampled rows), and from the first snapshot (reference basis, histogram
    edges, first values and views): kept across resets of the same simulation, so a run
    that starts from the same connectivity and weights (every reset of a static network)
    does not recompute them. Reused only after checking its inputs by value (key, CSR
    pointers and targets, first weights), so an edit of the connectivity, the seed, the
    parameters or the initial weights is never answered from a stale entry."""

    __slots__ = ("key", "indptr", "post", "rows", "sel", "r", "c", "flat", "first")

    def matches(self, key, indptr, post) -> bool:
        return self.key == key and np.array_equal(self.indptr, indptr) and np.array_equal(self.post, post)


# simulation -> {monitor node id: _Memo}; weak, so a dropped simulation takes its entries along
_MEMOS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()


def _owned(w) -> np.ndarray:
    """w itself if nothing can change it later (a read-only array owning its data, as the
    run loop hands out), else a copy."""
    w = np.asarray(w)
    if w.flags.writeable or w.base is not None:
        w = w.copy()
        w.flags.writeable = False
    return w


def _copy_views(views: dict) -> dict:
    return {name: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in d.items()} for name, d in views.items()}


class _GeomState:
    def __init__(self, node, sim, names):
        v = node.values
        self.proj = sim.plan.node_info[node.id]["source"]
        self.traces = Traces(names, int(v["max_points"]))
        self.last_s = None
        self.views: dict = {}  # the newest spectrum / histogram / PC image, until streamed
        self.lock = threading.Lock()
        self._setup_args = (node, sim)
        self.rows = None
        self._last_w = None
        self._last_vals: dict = {}
        self._memo: _Memo | None = None

    def setup(self) -> None:
        """The sampled rows (reading the connectivity): on the analysis thread, at the first snapshot."""
        if self.rows is not None:
            return
        node, sim = self._setup_args
        v = node.values
        info = sim.plan.node_info[self.proj]
        B = sim.plan.buffers  # CSR by presynaptic neuron: only the sampled rows' synapses are needed
        indptr, post = B[f"{self.proj}.indptr"], B[f"{self.proj}.post"]
        n_post, self.n_pre = info["n_post"], info["n_pre"]
        self.ref_rank = int(v["ref_rank"])
        self.spectrum_size = int(v["spectrum_size"])
        self.W0 = self.Wprev = self.basis = self.edges = None
        key = (sim.seed, int(v["max_rows"]), self.ref_rank, self.spectrum_size, int(n_post), int(self.n_pre))
        with _MEMO_LOCK:
            memo = _MEMOS.setdefault(sim, {}).get(node.id)
        if memo is not None and memo.matches(key, indptr, post):
            self.rows, self.sel, self.r, self.c, self.flat = memo.rows, memo.sel, memo.r, memo.c, memo.flat
            self._memo = memo
            return
        k = min(n_post, int(v["max_rows"]))
        if k < n_post:
            rkey = rng.node_key(sim.seed, node.id, "rows")
            rows = np.sort(np.argsort(rng.uniform_np(rkey, 0, np.arange(n_post)), kind="stable")[:k])
        else:
            rows = np.arange(n_post)
        row_of = np.full(n_post, -1, np.int64)
        row_of[rows] = np.arange(k)
        r = row_of[post]
        sel = np.nonzero(r >= 0)[0]
        # the presynaptic neuron of each selected synapse, from the CSR row pointers
        r, c = r[sel], np.searchsorted(indptr, sel, side="right") - 1
        memo = _Memo()
        memo.key, memo.indptr, memo.post = key, np.array(indptr, copy=True), np.array(post, copy=True)
        memo.rows, memo.sel, memo.r, memo.c, memo.flat = rows, sel, r, c, r * self.n_pre + c
        memo.first = None
        with _MEMO_LOCK:
            _MEMOS.setdefault(sim, {})[node.id] = memo  # a whole new entry: readers never see half of one
        self.rows, self.sel, self.r, self.c, self.flat = memo.rows, memo.sel, memo.r, memo.c, memo.flat
        self._memo = memo

    def analyse(self, t_ms, w) -> None:
        self.setup()
        if self._last_w is not None and (w is self._last_w or np.array_equal(w, self._last_w)):
            # (the run loop hands out the same read-only array while the weights are unchanged)
            # unchanged weights (a static projection, or between plasticity updates): the same
            # geometry, no weight change to project (cosine undefined), nothing new to draw
            vals = dict(self._last_vals, subspace_cosine=np.nan)
            self.traces.add(t_ms, vals)
            self._last_vals = vals
            return
        views = self.snapshot(t_ms, w)
        self._last_w = w
        with self.lock:
            self.views.update(views)

    def take(self) -> dict:
        with self.lock:
            out, self.views = self.views, {}
        out.update(self.traces.take_new())
        return out

    def sparse(self, w):
        """The sampled rows as a sparse matrix (multapses add up): never a dense copy, so a
        snapshot touches O(rows × in-degree) memory, not O(rows × n_pre)."""
        from scipy.sparse import csr_matrix
        return csr_matrix((np.asarray(w, np.float64)[self.sel], (self.r, self.c)), shape=(len(self.rows), self.n_pre))

    def snapshot(self, t_ms, w) -> dict:
        if self.W0 is None:
            first = self._memo.first if self._memo is not None else None
            if first is not None and (w is first[0] or np.array_equal(w, first[0])):
                return self._restore_first(t_ms, first)
            out = self._snapshot(t_ms, w)
            if self._memo is not None:
                self._memo.first = (_owned(w), self.W0, self.basis, self.edges, self.last_s.copy(),
                                    dict(self._last_vals), _copy_views(out))
            return out
        return self._snapshot(t_ms, w)

    def _restore_first(self, t_ms, first) -> dict:
        """The first snapshot of an earlier run of the same connectivity and weights: its
        state, values and views as computed then (the same arrays, bit for bit)."""
        _, S, self.basis, self.edges, s, vals, views = first
        self.W0 = self.Wprev = S  # sparse matrices are never changed in place
        self.last_s = s.copy()
        vals = dict(vals)
        self.traces.add(t_ms, vals)
        self._last_vals = vals
        return _copy_views(views)

    def _snapshot(self, t_ms, w) -> dict:
        from scipy.sparse.linalg import norm as spnorm

        from engine.analysis import effective_rank

        S = self.sparse(w)
        G = (S @ S.T).toarray()
        if self.W0 is None:  # one eigendecomposition gives the spectrum and the reference basis
            lam_all, U_all = np.linalg.eigh(G)
        else:
            lam_all = np.linalg.eigvalsh(G)
        s = np.sqrt(np.clip(lam_all[::-1], 0.0, None))
        self.last_s = s
        if self.W0 is None:
            self.W0 = S
            # top right singular vectors: V_k = Wᵀ U_k / s_k (orthonormal)
            lam, U = lam_all[::-1][: self.ref_rank], U_all[:, ::-1][:, : self.ref_rank]
            keep = lam > 1e-12 * max(lam[0], 1e-300) if len(lam) else lam > 0
            self.basis = np.asarray(S.T @ U[:, keep]) / np.sqrt(lam[keep])  # n_pre × k
            lo, hi = (float(np.min(w)), float(np.max(w))) if len(w) else (0.0, 1.0)
            pad = 0.05 * (hi - lo) if hi > lo else (0.1 * abs(hi) if hi != 0 else 1.0)
            self.edges = np.linspace(lo - pad, hi + pad, 41)
        cos = np.nan
        if self.Wprev is not None:  # ‖ΔW V‖ / ‖ΔW‖, as engine.analysis.subspace_cosine
            dW = S - self.Wprev
            nd = spnorm(dW)
            if nd > 0:
                cos = float(min(1.0, np.linalg.norm(np.asarray(dW @ self.basis)) / nd))
        self.Wprev = S
        n0 = spnorm(self.W0)
        with np.errstate(all="ignore"):
            vals = {"effective_rank": float(effective_rank(s)), "top_singular_value": float(s[0]) if len(s) else np.nan,
                    "drift": float(spnorm(S - self.W0) / n0) if n0 > 0 else np.nan,
                    "subspace_cosine": cos,
                    "mean_weight": float(np.mean(w)) if len(w) else np.nan}
        self.traces.add(t_ms, vals)
        self._last_vals = vals
        k = min(self.spectrum_size, len(s))
        ws = np.asarray(w)[self.sel]  # the sampled rows' synapses: the histogram costs O(rows × in-degree)
        counts, _ = np.histogram(np.clip(ws, self.edges[0], self.edges[-1]), self.edges)
        out = {"spectrum": {"edges": np.arange(k + 1, dtype=float), "counts": s[:k]},
               "histogram": {"edges": self.edges, "counts": counts}}
        rows = S.shape[0]
        if rows >= 3:
            # PCA of the rows from the Gram matrix: Wc Wcᵀ = G − a1ᵀ − 1aᵀ + (μ·μ)11ᵀ, μ the
            # mean row, a = W μ
            mu = np.asarray(S.mean(axis=0)).ravel()
            a = np.asarray(S @ mu).ravel()
            Gc = G - a[:, None] - a[None, :] + float(mu @ mu)
            lam, U = np.linalg.eigh(Gc)  # PCA scores of the rows: U_k * sqrt(lambda_k)
            if lam[-1] > 1e-12 * max(abs(float(G.max())), 1e-300):
                proj = U[:, ::-1][:, :2] * np.sqrt(np.clip(lam[::-1][:2], 0.0, None))
                H, _, _ = np.histogram2d(proj[:, 0], proj[:, 1], bins=32)
                out["pcs"] = {"z": H.T}
        return out
