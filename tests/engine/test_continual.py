"""Continual learning in one run (issue 8, HLOP): the digits stimulus' task schedule, the Oja
rule's task boundaries (rows per task, frozen rows, the rows it hands on), the three-factor
rule's projection off the finished tasks' subspace, and the per-task accuracy monitor."""
from __future__ import annotations

import numpy as np
import pytest

from engine import DesignError, Simulation, validate
from tests.helpers import design, node


def _digits_values(**over):
    from components.stimulus_digits import DigitsStimulus

    v = DigitsStimulus.defaults()
    v.update(over)
    return v


# --- stimulus.digits with tasks --------------------------------------------------------------
def test_task_schedule_trains_each_task_then_tests_every_task():
    from components.stimulus_digits import dataset, make_schedule

    v = _digits_values(tasks="0,1; 2,3 ;4,5", task_labels="within_task", n_samples=60, train_fraction=0.8,
                       sample_ms=10.0, gap_ms=2.0)
    s = make_schedule(v, 7, "dig", 1.0)
    _, labels = dataset()
    n_train, n_test = 48, 12
    assert len(s["label"]) == n_train + 3 * n_test and (s["n_train"], s["n_test"]) == (n_train, 3 * n_test)
    assert s["classes"] == [0, 1] and s["tasks"] == [[0, 1], [2, 3], [4, 5]] and s["n_tasks"] == 3
    np.testing.assert_array_equal(s["digit"], labels[s["index"]])
    np.testing.assert_array_equal(s["task"], s["digit"] // 2)
    np.testing.assert_array_equal(s["label"], s["digit"] % 2)  # position of the class within its task
    np.testing.assert_array_equal(s["start_step"], np.arange(len(s["label"])) * 12)
    test_set = None
    pos = 0
    for m in range(3):  # task m's train samples, then a block with every held-out sample
        tr = np.flatnonzero(s["train"] & (s["block"] == m))
        te = np.flatnonzero(~s["train"] & (s["block"] == m))
        assert len(tr) == 16 and np.all(s["task"][tr] == m)
        np.testing.assert_array_equal(np.concatenate([tr, te]), np.arange(pos, pos + 16 + n_test))
        pos += 16 + n_test
        assert sorted(np.bincount(s["task"][te], minlength=3).tolist()) == [4, 4, 4]
        if test_set is None:
            test_set = sorted(s["index"][te].tolist())
        assert sorted(s["index"][te].tolist()) == test_set  # the same held-out images each time
        assert not set(test_set) & set(s["index"][tr].tolist())
    c = make_schedule(dict(v, task_labels="class"), 7, "dig", 1.0)
    np.testing.assert_array_equal(c["label"], c["digit"])
    assert c["classes"] == [0, 1, 2, 3, 4, 5]
    # without tasks the schedule is the one it always was
    plain = make_schedule(_digits_values(classes="0,1,2,3,4,5", n_samples=60), 7, "dig", 1.0)
    assert "task" not in plain and len(plain["label"]) == 60


def test_task_schedule_errors_name_the_parameter():
    def errs(**data):
        d = design([node("dig", "stimulus.digits", **data), node("m", "monitor.spikes")], [("dig.spikes", "m.spikes")])
        return {(p.code, p.node, p.param) for p in validate(d) if p.severity == "error"}

    assert ("digits.tasks", "dig", "tasks") in errs(tasks="0,1; 1,2", n_samples=30)
    assert ("param.format", "dig", "tasks") in errs(tasks="0,1;;2")
    assert ("digits.tasks", "dig", "n_samples") in errs(tasks="0,1; 2,3", n_samples=4, train_fraction=0.5)
    assert ("digits.n_samples", "dig", "n_samples") in errs(tasks="0; 1", n_samples=400)
    assert not errs(tasks="0,1; 2,3", classes="7", n_samples=40)  # classes is unused with tasks


# --- Oja rule with task boundaries + three-factor projection -------------------------------
def _hlop_design(rows_per_task=2, k=6, wire_schedule=True, projected="frozen"):
    nodes = [node("dig", "stimulus.digits", tasks="0,1; 2,3", task_labels="within_task", n_samples=40,
                  train_fraction=0.5, sample_ms=20.0, gap_ms=5.0, max_rate_hz=200.0),
             node("w", "projection.synapses", rule="all_to_all", weight_mv=0.0, tau_syn_ms=5.0),
             node("out", "neuron.lif", n=2, tau_m_ms=10.0),
             node("tf", "plasticity.three_factor", eta=1e-6),
             node("lat", "projection.synapses", rule="all_to_all", allow_self=True,
                  weight_mv={"dist": "normal", "mean": 0.0, "std": 0.1}),
             node("sub", "neuron.lif", n=k),
             node("oja", "plasticity.oja_subspace", eta=2e-3, rows_per_task=rows_per_task, projected=projected)]
    edges = [("dig.spikes", "w.pre"), ("w.post", "out.drive"), ("tf.rule", "w.rule"), ("dig.label", "tf.modulator"),
             ("dig.spikes", "lat.pre"), ("lat.post", "sub.drive"), ("oja.rule", "lat.rule"),
             ("oja.subspace", "tf.subspace")]
    if wire_schedule:
        edges.append(("dig.label", "oja.schedule"))
    return design(nodes, edges, dt_ms=1.0, duration_ms=60 * 25.0, seed=3)


def test_oja_rows_per_task_freeze_at_the_boundary_and_the_projection_follows():
    """Task m trains rows 2m, 2m+1 only during its train samples; earlier rows stay frozen and
    later rows untouched. With projected = 'frozen' the three-factor rule's updates during task
    2 are orthogonal to task 1's rows (relative residual < 1e-9), during task 1 they are not."""
    sim = Simulation(_hlop_design())
    s = sim.plan.node_info["dig"]["schedule"]
    B = sim.plan.buffers
    H = lambda: B["lat.w"][B["oja.qidx"]].copy()  # noqa: E731
    W = lambda: B["w.w"].reshape(64, 2).copy()  # noqa: E731
    H0, W0 = H(), W()
    first_test = int(np.flatnonzero(~s["train"])[0])
    task2 = int(np.flatnonzero(s["train"] & (s["block"] == 1))[0])
    sim.run(float(s["start_step"][first_test]))  # end of task 1's training
    H1, W1 = H(), W()
    assert int(B["oja.nproj"][0]) == 0 and B["oja.cur"].tolist() == [0, 0]
    assert not np.allclose(H1[:2], H0[:2]) and np.array_equal(H1[2:], H0[2:])
    sim.run(float(s["start_step"][task2]) - sim.t_ms)  # through the test block: nothing learns
    assert np.array_equal(H(), H1) and np.array_equal(W(), W1)
    # task 1 is finished: its rows are handed on before task 2's first train step
    assert int(B["oja.nproj"][0]) == 2 and B["oja.cur"].tolist() == [0, 1]
    sim.run(float(s["start_step"][task2]) + 5.0 - sim.t_ms)
    assert int(B["oja.nproj"][0]) == 2 and B["oja.cur"].tolist() == [1, 1]
    sim.run()
    H2, W2 = H(), W()
    assert int(B["oja.nproj"][0]) == 4 and B["oja.cur"].tolist() == [1, 2]  # after task 2's test block
    assert np.array_equal(H2[:2], H1[:2])  # frozen
    assert not np.allclose(H2[2:4], H1[2:4]) and np.array_equal(H2[4:], H0[4:])  # learning / unused
    Q = np.linalg.qr(H1[:2].T)[0]  # basis of task 1's rows
    d1, d2 = W1 - W0, W2 - W1
    assert np.linalg.norm(d2) > 0
    res2 = np.linalg.norm(Q.T @ d2, axis=0) / np.linalg.norm(d2, axis=0)
    res1 = np.linalg.norm(Q.T @ d1, axis=0) / np.linalg.norm(d1, axis=0)
    # H H^T is not exactly I, so the projection r - H^T H r leaves a little in span(H)
    G = H1[:2] @ H1[:2].T
    tol = 2 * np.abs(G - np.eye(2)).max() + 1e-9
    assert res2.max() < tol, (res2, tol)
    assert res1.min() > 0.1, res1


def test_oja_projected_all_hands_on_every_row_in_use():
    sim = Simulation(_hlop_design(projected="all"))
    sim.run()
    assert int(sim.plan.buffers["oja.nproj"][0]) == 4  # rows of tasks 1 and 2
    plain = _hlop_design(rows_per_task=0, wire_schedule=False, projected="all")
    sim = Simulation(plain)
    sim.run(10.0)
    assert int(sim.plan.buffers["oja.nproj"][0]) == 6  # no schedule: every row (the rule's old behaviour)


def test_oja_task_errors_name_the_node():
    probs = {(p.code, p.node, p.param) for p in validate(_hlop_design(wire_schedule=False)) if p.severity == "error"}
    assert ("rule.tasks", "oja", "rows_per_task") in probs
    with pytest.raises(DesignError) as e:
        Simulation(_hlop_design(rows_per_task=7, k=6))
    assert "'oja'" in str(e.value) and "rows_per_task" in str(e.value)


# --- monitor.task_accuracy ---------------------------------------------------------------------
def _accuracy_design(chunk_seed=5, n_out=2):
    from components.stimulus_digits import make_schedule

    data = dict(tasks="0,1; 2,3", task_labels="within_task", n_samples=24, train_fraction=0.5, sample_ms=10.0,
                gap_ms=5.0)
    s = make_schedule(_digits_values(**data), chunk_seed, "dig", 1.0)
    ev, credit = [], []
    for p, (st, lab) in enumerate(zip(s["start_step"], s["label"])):
        kind = p % 4  # 0: right (2 vs 1 spikes), 1: wrong (0 vs 2), 2: tie (1 vs 1), 3: silent (tie)
        other = 1 - lab
        spikes = {0: [lab, lab, other], 1: [other, other], 2: [lab, other], 3: []}[kind]
        ev += [f"{i}@{st + 1 + k}" for k, i in enumerate(spikes)]
        credit.append({0: 1.0, 1: 0.0, 2: 0.5, 3: 0.5}[kind])
    nodes = [node("dig", "stimulus.digits", **data), node("out", "stimulus.spike_array", n=n_out, events=", ".join(ev)),
             node("acc", "monitor.task_accuracy", recent=4)]
    d = design(nodes, [("out.spikes", "acc.spikes"), ("dig.label", "acc.label")], dt_ms=1.0,
               duration_ms=float(s["end_step"]), seed=chunk_seed)
    return d, s, np.array(credit)


@pytest.mark.parametrize("chunk_ms", [100.0, 7.0])
def test_task_accuracy_scores_votes_per_task_and_block(chunk_ms):
    """Decision = the output with most spikes in the sample window, ties share the credit;
    R[block, task] = mean credit of that task's held-out samples in that block; forgetting
    R[j, j] - R[last, j]; 'recent' = mean credit of the latest 4 train samples."""
    d, s, credit = _accuracy_design()
    sim = Simulation(d, chunk_ms=chunk_ms)
    got = []
    sim.subscribe(lambda ch, _: got.append(ch.streams.get("acc", {})))
    sim.run()
    f = sim.summary()["monitors"]["acc"]
    R = np.zeros((2, 2))
    for b in range(2):
        for k in range(2):
            m = (~s["train"]) & (s["block"] == b) & (s["task"] == k)
            R[b, k] = credit[m].mean()
    np.testing.assert_allclose(np.array(f["accuracy"]), R, rtol=0, atol=1e-12)
    assert f["blocks_done"] == 2 and f["n_tasks"] == 2
    assert f["forgetting"] == pytest.approx([R[0, 0] - R[1, 0]]) and f["final_accuracy"] == pytest.approx(list(R[1]))
    a = sim.node_state("acc", None)
    np.testing.assert_array_equal(a.credit, credit)
    tr = credit[s["train"]]
    rec = [tr[k - 4:k].mean() for k in range(4, len(tr) + 1, 4)]
    arr = sim.graph.nodes["acc"].type.arrays(sim.graph.nodes["acc"], sim)
    np.testing.assert_allclose(arr["recent"], rec)
    np.testing.assert_allclose(arr["task_1"], R[:, 0])
    ends = [float(s["stop_step"][np.flatnonzero(~s["train"] & (s["block"] == b))[-1]]) for b in range(2)]
    np.testing.assert_allclose(arr["t_ms"], ends)
    streamed = np.concatenate([g["task_2"]["y"] for g in got if "task_2" in g])
    np.testing.assert_allclose(streamed, R[:, 1])
    assert any("matrix" in g for g in got) and not any("task_3" in g for g in got)


def test_task_accuracy_needs_one_voting_neuron_per_class():
    d, _, _ = _accuracy_design(n_out=3)
    with pytest.raises(DesignError) as e:
        Simulation(d)
    assert "'out' has 3 neurons" in str(e.value) and "2 classes" in str(e.value)
    bad = design([node("p", "stimulus.poisson", n=2), node("acc", "monitor.task_accuracy")],
                 [("p.spikes", "acc.spikes"), ("p.spikes", "acc.spikes")])
    assert any(p.node == "acc" and p.port == "label" for p in validate(bad) if p.severity == "error")
