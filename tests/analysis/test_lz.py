"""engine.analysis.lz: LZ76 complexity against antropy and the Kaspar-Schuster scan."""
import numpy as np
import pytest

from engine.analysis import lz76, lz76_normalized, lz76_per_neuron, lz76_population, lz76_window
from engine.analysis.lz import _lz76_gaps, _lz76_ks, _lz76_sam


@pytest.fixture
def antropy():
    """The reference implementation (a test-only dependency: the engine never imports it)."""
    return pytest.importorskip("antropy")


def random_sequences(seed, lengths, per_length):
    rng = np.random.default_rng(seed)
    for n in lengths:
        for _ in range(per_length):
            p = rng.choice([0.02, 0.1, 0.3, 0.5, 0.8, rng.random()])
            yield (rng.random(n) < p).astype(np.uint8)


@pytest.mark.peer
def test_equals_antropy_raw_and_normalized(antropy):
    # integer counts exactly; normalised values to 1e-12 (same formula c / (n / log(n, 2)), so in practice equal)
    for x in random_sequences(0, [2, 3, 4, 5, 8, 13, 50, 255, 256, 257, 1000, 5000], 60):
        assert lz76(x) == antropy.lziv_complexity(x)
        assert lz76_normalized(x) == pytest.approx(antropy.lziv_complexity(x, normalize=True), rel=0, abs=1e-12)


@pytest.mark.peer
def test_equals_antropy_on_structured_sequences(antropy):
    base = np.array([0, 1, 1, 0, 1, 0, 0, 0], dtype=np.uint8)
    seqs = [np.tile(base, 100), np.tile([0, 1], 700), np.r_[np.zeros(600), np.ones(600)].astype(np.uint8),
            np.kron(np.random.default_rng(1).integers(0, 2, 200), np.ones(7, dtype=np.int64)).astype(np.uint8)]
    for x in seqs:
        assert lz76(x) == antropy.lziv_complexity(x)


def test_suffix_automaton_equals_kaspar_schuster_scan():
    # the two exact implementations (used below/above 256 symbols) agree everywhere, including long inputs
    for x in random_sequences(2, [1, 2, 3, 7, 64, 300, 3000, 20_000], 15):
        assert _lz76_sam(x) == _lz76_ks(x)


def structured_sequences(seed, count):
    """Sparse, periodic, bursty and complemented sequences: the run-length parse's hard cases
    (equal gaps, long common block prefixes, the last block, the rarer symbol being 0)."""
    rng = np.random.default_rng(seed)
    for k in range(count):
        n = int(rng.integers(1, 400))
        kind = k % 6
        if kind == 0:
            x = (rng.random(n) < rng.random()).astype(np.uint8)
        elif kind == 1:
            x = (rng.random(n) < 0.03).astype(np.uint8)
        elif kind == 2:  # periodic, sometimes with one flipped symbol
            x = np.zeros(n, np.uint8)
            x[::int(rng.integers(1, 20))] = 1
            if rng.random() < 0.5:
                x[rng.integers(0, n)] ^= 1
        elif kind == 3:  # a short random motif repeated
            x = np.resize((rng.random(int(rng.integers(1, 12))) < 0.3).astype(np.uint8), n)
        elif kind == 4:  # a few isolated symbols, or their complement
            x = np.zeros(n, np.uint8)
            x[rng.integers(0, n, size=int(rng.integers(0, 4)))] = 1
            if rng.random() < 0.3:
                x = 1 - x
        else:  # bursts: runs of ones
            x = np.kron((rng.random(max(1, n // 5)) < 0.1), np.ones(5, dtype=np.int64)).astype(np.uint8)[:n]
        yield x


def test_run_length_parse_equals_the_scan_and_the_automaton():
    # exact on every input it accepts (the budget is unlimited here, so it accepts all of them)
    for x in structured_sequences(3, 6000):
        c = _lz76_gaps(x, 10**12)
        assert c == _lz76_ks(x) == _lz76_sam(x), x.tolist()
    for x in random_sequences(4, [1000, 20_000], 10):
        assert _lz76_gaps(x, 10**12) == _lz76_sam(x)


def test_run_length_parse_gives_up_on_dense_input_and_the_count_stays_exact():
    rng = np.random.default_rng(5)
    dense = (rng.random(20_000) < 0.5).astype(np.uint8)
    assert _lz76_gaps(dense, 4 * dense.size + 64) == -1  # too many candidates: falls back
    assert lz76(dense) == _lz76_sam(dense)
    sparse = (rng.random(100_000) < 0.02).astype(np.uint8)
    assert _lz76_gaps(sparse, 4 * sparse.size + 64) == _lz76_sam(sparse)  # spike trains stay on the fast path


@pytest.mark.peer
@pytest.mark.parametrize("s, c", [("0001101001000101", 6), ("1001111011000010", 6)])
def test_worked_examples(s, c, antropy):
    # Kaspar & Schuster 1987: 0 . 001 . 10 . 100 . 1000 . 101 -> 6; antropy's docstring example -> 6
    x = np.array([int(ch) for ch in s], dtype=np.uint8)
    assert antropy.lziv_complexity(s) == c
    assert lz76(x) == c
    assert lz76_normalized(x) == pytest.approx(c * np.log2(16) / 16, abs=1e-15)


def test_edge_cases():
    assert lz76(np.array([1])) == 1 and lz76(np.array([0])) == 1
    assert lz76_normalized(np.array([1])) == 0.0  # log2(1) = 0
    assert lz76(np.zeros(1000, dtype=np.uint8)) == 2  # 0 . 000...
    assert lz76(np.zeros(2, dtype=np.uint8)) == 2
    assert lz76(np.tile([0, 1], 500)) == 3  # 0 . 1 . 0101...
    assert lz76(np.array([True, False, True, True])) == lz76(np.array([1, 0, 1, 1]))


@pytest.mark.peer
def test_edge_cases_against_antropy(antropy):
    for x in (np.array([1]), np.zeros(1000, dtype=np.uint8), np.ones(3, dtype=np.uint8), np.tile([0, 1], 500),
              np.tile([1, 0], 5)):
        assert lz76(x) == antropy.lziv_complexity(x)


def test_random_fair_coin_normalized_near_one():
    # c log2(n) / n -> h(p) = 1 bit slowly from above; at n = 10^5 it is within a few percent
    x = (np.random.default_rng(3).random(100_000) < 0.5).astype(np.uint8)
    assert 0.95 < lz76_normalized(x) < 1.1


def test_population_is_neuron_major_flattening():
    rng = np.random.default_rng(4)
    b = (rng.random((50, 30)) < 0.2).astype(np.uint8)
    assert lz76_population(b) == lz76_normalized(b.T.ravel())
    assert lz76_population(b) != lz76_normalized(b.ravel())  # time-major would be a different sequence


def test_per_neuron():
    rng = np.random.default_rng(5)
    b = (rng.random((200, 12)) < 0.3).astype(np.uint8)
    b[:, 4] = 0
    raw = lz76_per_neuron(b, normalize=False)
    np.testing.assert_array_equal(raw, [lz76(b[:, j]) for j in range(12)])
    np.testing.assert_allclose(lz76_per_neuron(b), [lz76_normalized(b[:, j]) for j in range(12)], rtol=0, atol=1e-15)
    assert raw[4] == 2
    np.testing.assert_array_equal(lz76_per_neuron(np.ones((1, 3))), 0.0)


def test_bad_input():
    with pytest.raises(ValueError, match="^x must have at least 1"):
        lz76(np.array([], dtype=np.uint8))
    with pytest.raises(ValueError, match="only 0 and 1"):
        lz76(np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="^x must be a 1-D"):
        lz76_normalized(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="^binary_matrix"):
        lz76_population(np.zeros(10))
    with pytest.raises(ValueError, match="^binary_matrix"):
        lz76_per_neuron(np.zeros((0, 4)))


def test_window_helper_equals_the_population_and_per_neuron_functions():
    rng = np.random.default_rng(6)
    for p in (0.0, 0.02, 0.3):
        counts = rng.poisson(p, (200, 50)).astype(np.int32)
        pop, mean = lz76_window(counts)
        assert pop == lz76_population(counts > 0)
        assert mean == float(np.mean(lz76_per_neuron(counts > 0)))
    assert np.isnan(lz76_window(np.zeros((10, 0)))[0])
