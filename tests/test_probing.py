"""The elastic-net probe, its evaluation, λ search, control tasks and selectivity (lib.methods.probing, lib.methods.selectivity)."""
import dataclasses
import threading

import numpy as np
import pytest
import scipy.optimize
import torch

from lib.methods import probing
from lib.methods.probing import (_NEURON_BLOCK, Probe, ProbeSettings, _design, encode, evaluate, lambda_search,
                                 objective, predict, synthetic_splits, train_probe)
from lib.methods.ranking import global_order
from lib.pipeline.lca import load_probe, save_probe
from lib.methods.selectivity import ControlTask, control_splits, selectivity

FAST = ProbeSettings(seed=3)
ADAM = ProbeSettings(solver="adam", dev_use="early_stop", epochs=15, batch_size=256, lr=2e-2, seed=3)


@pytest.fixture(scope="module")
def planted():
    return synthetic_splits(n_words=3000, n_neurons=40, n_labels=4, planted=2, seed=1)


@pytest.fixture(scope="module")
def probe(planted):
    data, _ = planted
    return train_probe(*data.train[:2], dev=data.dev[:2], settings=FAST, progress=False)


@pytest.fixture(scope="module")
def adam_probe(planted):
    data, _ = planted
    return train_probe(*data.train[:2], dev=data.dev[:2], settings=ADAM, progress=False)


def reference_fit(acts: np.ndarray, y: np.ndarray, n_classes: int, l1: float, l2: float):
    """An independent solver of the same objective: scipy's L-BFGS-B in float64 on raw W = P − M with P, M ≥ 0
    (exact for the L1 term: λ1 Σ(P + M) equals λ1 Σ|W| at the optimum), bias free. Returns W, b, objective."""
    n, d = acts.shape
    X, onehot, size = acts.astype(np.float64), np.eye(n_classes)[y], d * n_classes

    def f(z):
        P, M, b = z[:size].reshape(d, n_classes), z[size:2 * size].reshape(d, n_classes), z[2 * size:]
        W = P - M
        logits = X @ W + b
        logits -= logits.max(1, keepdims=True)
        lse = np.log(np.exp(logits).sum(1))
        G = (np.exp(logits - lse[:, None]) - onehot) / n
        gW = X.T @ G + 2 * l2 * W
        value = np.mean(lse - (logits * onehot).sum(1)) + l1 * (P + M).sum() + l2 * (W * W).sum()
        return value, np.concatenate([(gW + l1).ravel(), (l1 - gW).ravel(), G.sum(0)])

    bounds = [(0, None)] * (2 * size) + [(None, None)] * n_classes
    result = scipy.optimize.minimize(f, np.zeros(2 * size + n_classes), jac=True, method="L-BFGS-B", bounds=bounds,
                                     options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-15, "gtol": 1e-10})
    W = (result.x[:size] - result.x[size:2 * size]).reshape(d, n_classes).T
    return W, result.x[2 * size:], result.fun


@pytest.mark.parametrize("solver, tol, precision", [("owlqn", 1e-6, "float32"), ("owlqn", 1e-6, "mixed"),
                                                     ("fista", 1e-5, "float32")])
@pytest.mark.parametrize("l1, l2", [(1e-3, 1e-3), (1e-2, 0.0)])
def test_solver_reaches_the_optimum_of_an_independent_reference_solver(solver, tol, precision, l1, l2):
    data, _ = synthetic_splits(n_words=1500, n_neurons=20, n_labels=3, planted=2, seed=2)
    acts, labels = data.train[:2]
    y = encode(sorted(set(labels)), labels)
    W, b, ref = reference_fit(acts, y, 3, l1, l2)
    settings = ProbeSettings(l1=l1, l2=l2, solver=solver, tol=tol, precision=precision)
    ours = train_probe(acts, labels, settings=settings, progress=False)
    assert ours.converged
    assert ours.objective == pytest.approx(objective(ours, acts, labels), rel=1e-6)
    # tolerances: float32 training against a float64 reference; FISTA's step noise floor is near tol = 1e-6
    assert ours.objective <= ref + 10 * tol
    np.testing.assert_allclose(ours.weights, W, atol=1e3 * tol * np.abs(W).max())
    np.testing.assert_array_equal(ours.weights == 0, np.abs(W) < 1e-6)


def test_converged_probe_beats_early_stopped_adam_on_its_objective(planted, probe, adam_probe):
    data, _ = planted
    assert probe.converged and adam_probe.converged is None
    assert probe.objective < 0.5 * objective(adam_probe, *data.train[:2])


def test_probe_recovers_planted_neurons_first(planted, probe):
    data, ids = planted
    assert probe.weights.shape == (4, 40) and probe.classes == ("L00", "L01", "L02", "L03")
    assert set(global_order(probe.scaled_weights)[: ids.size]) == set(ids.ravel())
    assert evaluate(probe, *data.test[:2]).accuracy > 0.9


def test_l1_makes_noise_weights_exactly_zero(planted):
    data, ids = planted
    lasso = train_probe(*data.train[:2], settings=dataclasses.replace(FAST, l1=1e-2, l2=0.0), progress=False)
    noise = np.setdiff1d(np.arange(40), ids.ravel())
    assert np.mean(lasso.weights[:, noise] == 0) > 0.5
    assert np.all(np.abs(lasso.weights[:, ids.ravel()]).max(0) > 0)


def test_scale_is_the_spread_of_each_neuron_and_predictions_use_raw_weights(planted, probe):
    data, _ = planted
    np.testing.assert_allclose(probe.scale, data.train[0].std(0, ddof=1), rtol=1e-4)
    np.testing.assert_allclose(probe.scaled_weights, probe.weights * probe.scale)
    logits = data.test[0] @ probe.weights.T + probe.bias
    np.testing.assert_array_equal(predict(probe, data.test[0]), np.asarray(probe.classes)[logits.argmax(1)])


def test_training_repeats_exactly_and_adam_follows_its_seed(planted, probe, adam_probe):
    data, _ = planted
    again = train_probe(*data.train[:2], dev=data.dev[:2], settings=FAST, progress=False)
    np.testing.assert_array_equal(again.weights, probe.weights)
    np.testing.assert_array_equal(again.bias, probe.bias)
    adam_again = train_probe(*data.train[:2], dev=data.dev[:2], settings=ADAM, progress=False)
    np.testing.assert_array_equal(adam_again.weights, adam_probe.weights)
    other = train_probe(*data.train[:2], dev=data.dev[:2], settings=dataclasses.replace(ADAM, seed=4),
                        progress=False)
    assert not np.array_equal(other.weights, adam_probe.weights)


def test_dev_split_only_scores_the_converged_probe(planted, probe):
    data, _ = planted
    blind = train_probe(*data.train[:2], settings=FAST, progress=False)
    np.testing.assert_array_equal(blind.weights, probe.weights)
    assert blind.dev_accuracy is None
    assert probe.dev_accuracy == pytest.approx(np.mean(predict(probe, data.dev[0]) == data.dev[1]), abs=1e-6)


def test_adam_early_stopping_keeps_the_best_dev_epoch(planted, adam_probe):
    assert 0 < adam_probe.epochs_run <= ADAM.epochs
    data, _ = planted
    dev_acc = np.mean(predict(adam_probe, data.dev[0]) == data.dev[1])
    assert adam_probe.dev_accuracy == pytest.approx(dev_acc, abs=1e-6)


@pytest.mark.parametrize("solver", ["owlqn", "fista", "adam"])
@pytest.mark.parametrize("neurons", [1, 5])
def test_training_leaves_the_callers_activations_untouched(planted, solver, neurons):
    data, _ = planted
    acts = np.ascontiguousarray(data.train[0][:, :neurons])
    before = acts.copy()
    train_probe(acts, data.train[1], settings=dataclasses.replace(FAST, solver=solver), progress=False)
    np.testing.assert_array_equal(acts, before)


@pytest.mark.parametrize("k", [3, 12])  # Xᵀ·G as G·Xᵀ, and as XT·Gᵀ (8 to 16 labels)
@pytest.mark.parametrize("half", [False, True])  # a mixed-precision design of the whole matrix starts from raw data
def test_design_products_in_blocks_are_exact(monkeypatch, k, half):
    monkeypatch.setattr(probing, "_WORD_BLOCK", 70)
    monkeypatch.setattr(probing, "_ROWS", 16)
    rng = np.random.default_rng(0)
    acts = (0.3 * rng.normal(size=(300, 2 * _NEURON_BLOCK + 77)) + rng.normal(size=2 * _NEURON_BLOCK + 77)).astype(
        np.float32)
    acts[:, 5] = 0.75  # a constant neuron: σ = 1, its standardised column zero
    y, columns = rng.integers(0, k, size=300), np.sort(rng.choice(acts.shape[1], 100, replace=False))
    G = torch.from_numpy(rng.normal(size=(k, 300)).astype(np.float32))
    c = torch.arange(k, dtype=torch.float32)
    for chosen in (None, columns):
        design = _design(acts, y, k, columns=chosen, half=half)
        X = acts.astype(np.float64) if chosen is None else acts[:, chosen].astype(np.float64)
        spread = X.std(0, ddof=1)
        X = (X - X.mean(0)) / np.where(spread > 0, spread, 1.0)
        V = torch.from_numpy(rng.normal(size=(X.shape[1], k)).astype(np.float32))
        np.testing.assert_allclose(design.mu.numpy(), acts[:, chosen if chosen is not None else slice(None)].mean(0),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(design.sigma.numpy(), np.where(spread > 0, spread, 1.0), rtol=1e-5)
        for _form in ("as built", "transposed"):  # a raw design's products before and after transpose()
            np.testing.assert_allclose(design.back(G).numpy(), X.T @ G.double().numpy().T, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(design.logits(V, c).numpy(), (X @ V.double().numpy()).T + c.numpy()[:, None],
                                       rtol=1e-4, atol=1e-3)
            design.transpose()
        np.testing.assert_allclose(design.XT.numpy(), X.T, rtol=1e-5, atol=1e-5)
        if half:
            np.testing.assert_allclose(design.half.X.float().numpy(), X, rtol=2 ** -8, atol=1e-6)
            if design.half.XT is not None:
                np.testing.assert_array_equal(design.half.XT.float().numpy(), design.half.X.float().numpy().T)


def test_data_far_from_zero_get_the_transposed_design_at_once():
    """Products from raw data lose precision to large offsets; such a design starts transposed."""
    rng = np.random.default_rng(1)
    acts, y = rng.normal(size=(500, 20)).astype(np.float32), rng.integers(0, 3, size=500)
    assert "XT" not in vars(_design(acts, y, 3, half=True))
    acts[:, 7] = 0.01 * acts[:, 7] + 5.0  # |μ| / σ = 500
    design = _design(acts, y, 3, half=True)
    assert "XT" in vars(design) and design.raw is not None
    X = (acts - acts.mean(0)) / acts.std(0, ddof=1)
    np.testing.assert_allclose(design.XT.numpy(), X.T, rtol=1e-3, atol=1e-3)


def test_a_probe_reuses_the_memory_its_array_left_and_frees_it_with_the_array():
    """The bfloat16 copies of a finished probe serve the next probe of the same array (no fresh pages to fault in),
    never two live designs at once, never another array's; they go when the array goes."""
    rng = np.random.default_rng(2)
    acts, y = rng.normal(size=(400, 30)).astype(np.float32), rng.integers(0, 3, size=400)
    first = train_probe(acts, y, settings=ProbeSettings(precision="mixed"), progress=False)
    kept = {buffer.data_ptr() for buffer in probing._SPARE[1]}
    assert probing._SPARE[0]() is acts and len(kept) == 2
    whole, subset = _design(acts, y, 3, half=True), _design(acts, y, 3, columns=np.array([1, 4, 9]), half=True)
    assert {whole.half.X.data_ptr(), whole.half.XT.data_ptr()} == kept and subset.half.X.data_ptr() not in kept
    np.testing.assert_allclose(whole.half.X.float().numpy(), (acts - acts.mean(0)) / acts.std(0, ddof=1),
                               rtol=2 ** -8, atol=1e-6)  # the reused memory holds this design's copies
    other = acts.copy()
    assert _design(other, y, 3, half=True).half.X.data_ptr() not in kept
    probing._keep(acts, whole.half)  # as train_probe does when a design is done with
    smaller = _design(acts, y, 3, columns=np.array([2, 3]), half=True)
    assert {smaller.half.X.data_ptr(), smaller.half.XT.data_ptr()} == kept
    fresh = _design(other, y, 3, columns=np.array([2, 3]), half=True)
    np.testing.assert_array_equal(smaller.half.X.float().numpy(), fresh.half.X.float().numpy())
    np.testing.assert_array_equal(smaller.half.XT.float().numpy(), fresh.half.XT.float().numpy())
    second = train_probe(acts, y, settings=ProbeSettings(precision="mixed"), progress=False)
    np.testing.assert_array_equal(first.weights, second.weights)
    del acts, whole, subset, smaller
    assert probing._SPARE == [None, []]
    for size in range(1, 6):  # ever larger column sets keep one pair of buffers, not one per size
        train_probe(other, y, settings=ProbeSettings(precision="mixed"), columns=np.arange(size), progress=False)
    assert [buffer.numel() for buffer in probing._SPARE[1]] == [400 * 5, 400 * 5]


@pytest.mark.parametrize("solver, precision, n_labels", [("owlqn", "float32", 4), ("owlqn", "mixed", 4),
                                                         ("owlqn", "mixed", probing._FEW_LABELS + 2),
                                                         ("fista", "float32", 4)])
def test_probe_is_bit_identical_on_one_thread_or_many(monkeypatch, solver, precision, n_labels):
    """torch's thread count sets how many threads multiply the blocks, never what a probe comes out as."""
    monkeypatch.setattr(probing, "_WORD_BLOCK", 700)
    monkeypatch.setattr(probing, "_NEURON_BLOCK", 16)
    data, _ = synthetic_splits(n_words=4000, n_neurons=50, n_labels=n_labels, planted=2, seed=5)
    seen, each = [], probing._each

    def recorded(fn, size, block):
        def on_thread(part):
            seen.append((threading.current_thread().name, torch.get_num_threads()))
            return fn(part)
        return each(on_thread, size, block)

    monkeypatch.setattr(probing, "_each", recorded)
    settings, before, fits, names = ProbeSettings(solver=solver, tol=1e-4, precision=precision), \
        torch.get_num_threads(), {}, {}
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            seen.clear()
            fits[threads] = train_probe(*data.train[:2], settings=settings, progress=False)
            assert torch.get_num_threads() == threads  # restored after the probe
            names[threads] = {name for name, _ in seen}
            assert {count for _, count in seen} == {1}  # each block computed on one thread
    finally:
        torch.set_num_threads(before)
    assert names[1] == {threading.current_thread().name}
    assert len(names[3]) > 1 and all(name.startswith("probe") for name in names[3])
    np.testing.assert_array_equal(fits[1].weights, fits[3].weights)
    np.testing.assert_array_equal(fits[1].bias, fits[3].bias)
    assert fits[1].objective == fits[3].objective and fits[1].epochs_run == fits[3].epochs_run


@pytest.mark.parametrize("n_labels", [6, probing._FEW_LABELS + 4])  # both forms of the bfloat16 products
def test_mixed_precision_iterates_in_bfloat16_and_stops_where_float32_does(monkeypatch, n_labels):
    data, _ = synthetic_splits(n_words=30000, n_neurons=96, n_labels=n_labels, planted=2, seed=4)
    acts, labels = data.train[:2]
    calls = {"bfloat16": 0}
    half_back = probing._Half.back

    def counted(self, G):
        calls["bfloat16"] += 1
        return half_back(self, G)

    monkeypatch.setattr(probing._Half, "back", counted)
    fits = {precision: train_probe(acts, labels, settings=ProbeSettings(tol=1e-4, precision=precision),
                                   progress=False) for precision in ("float32", "mixed")}
    float32, mixed = fits["float32"], fits["mixed"]
    assert calls["bfloat16"] >= 0.8 * mixed.epochs_run  # the iterations ran on the bfloat16 copies
    assert mixed.converged and mixed.settings.precision == "mixed"
    assert mixed.objective == pytest.approx(objective(mixed, acts, labels), rel=1e-6)  # reported in float32
    # two points that meet the same tol: their objectives differ in the fourth digit at most
    assert mixed.objective == pytest.approx(float32.objective, rel=1e-3)
    np.testing.assert_allclose(mixed.weights, float32.weights, atol=0.05 * np.abs(float32.weights).max())
    again = train_probe(acts, labels, settings=ProbeSettings(tol=1e-4, precision="mixed"), progress=False)
    np.testing.assert_array_equal(again.weights, mixed.weights)


def test_precision_auto_follows_the_hardware_and_only_owlqn_mixes(monkeypatch):
    for native, expected in ((True, "mixed"), (False, "float32")):
        monkeypatch.setattr(probing, "native_bfloat16", lambda native=native: native)
        assert ProbeSettings().precision == expected
        assert ProbeSettings(solver="fista").precision == "float32"
        assert dataclasses.replace(ProbeSettings(precision="mixed"), solver="adam").precision == "float32"
    with pytest.raises(ValueError, match="known: auto, float32, mixed"):
        ProbeSettings(precision="float16")


def test_bad_settings_are_explained():
    with pytest.raises(ValueError, match="known: owlqn, fista, adam"):
        ProbeSettings(solver="sgd")
    with pytest.raises(ValueError, match="needs solver='adam'"):
        ProbeSettings(dev_use="early_stop")
    with pytest.raises(ValueError, match="≥ 0"):
        ProbeSettings(l1=-1.0)


def _hand_probe() -> Probe:
    """Predicts "a" when neuron 0 > 0, "b" when neuron 1 > 0, else "c" (bias)."""
    return Probe(weights=np.array([[10.0, 0], [0, 10.0], [0, 0]], dtype=np.float32),
                 bias=np.array([0, 0, 1.0], dtype=np.float32), classes=("a", "b", "c"), settings=ProbeSettings(),
                 epochs_run=1, dev_accuracy=None, scale=np.ones(2, dtype=np.float32))


def test_evaluation_reports_absent_and_unseen_labels_without_nan():
    acts = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    result = evaluate(_hand_probe(), acts, ["a", "a", "b", "zzz"])
    assert result.accuracy == pytest.approx(3 / 4)
    assert result.absent == ("c",)
    table = result.per_label
    assert list(table.index) == ["a", "b", "zzz"] and not table.isna().any().any()
    assert table.loc["a", "precision"] == pytest.approx(2 / 3) and table.loc["a", "recall"] == 1.0
    assert table.loc["zzz", "recall"] == 0.0 and table.loc["zzz", "support"] == 1
    assert result.confusion.loc["zzz", "a"] == 1 and list(result.confusion.columns) == ["a", "b", "c"]


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="one label per row"):
        train_probe(np.zeros((3, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="at least two labels"):
        train_probe(np.zeros((3, 2)), ["a", "a", "a"])
    with pytest.raises(ValueError, match="2 neurons"):
        evaluate(_hand_probe(), np.zeros((2, 3)), ["a", "b"])


def test_save_and_load_round_trip(tmp_path, probe):
    path = save_probe(probe, tmp_path / "p" / "probe.npz")
    back = load_probe(path)
    np.testing.assert_array_equal(back.weights, probe.weights)
    np.testing.assert_array_equal(back.scale, probe.scale)
    assert back.classes == probe.classes and back.settings == probe.settings
    assert back.objective == probe.objective and back.converged is True
    assert back.dev_accuracy == probe.dev_accuracy and not list(tmp_path.glob("p/.*tmp"))


def test_lambda_search_keeps_accuracy_and_prefers_sparse(planted):
    data, _ = planted
    search = lambda_search(data.train[:2], data.dev[:2], grid=(0.0, 1e-2, 1.0), settings=FAST, margin=0.02,
                           progress=False)
    assert len(search.table) == 9
    chosen = search.table[(search.table.l1 == search.l1) & (search.table.l2 == search.l2)].iloc[0]
    assert chosen.dev_accuracy >= search.baseline - 0.02
    eligible = search.table[search.table.dev_accuracy >= search.baseline - 0.02]
    assert chosen.concentration == eligible.concentration.max()
    assert search.table.loc[search.table.l1 == 1.0, "dev_accuracy"].max() < search.baseline - 0.02


@pytest.mark.parametrize("solver", ["owlqn", "fista"])
def test_warm_started_lambda_path_reaches_the_same_optima_as_independent_fits(planted, solver):
    data, _ = planted
    grid, settings = (0.0, 1e-3, 1e-1), dataclasses.replace(FAST, solver=solver)
    search = lambda_search(data.train[:2], data.dev[:2], grid=grid, settings=settings, progress=False)
    for row in search.table.itertuples():
        alone = train_probe(*data.train[:2], settings=dataclasses.replace(settings, l1=row.l1, l2=row.l2),
                            progress=False)
        if row.l1 + row.l2 > 0:
            assert row.objective <= alone.objective + 1e-4
            assert row.objective == pytest.approx(alone.objective, rel=2e-3)
        else:  # without a penalty the infimum lies at infinity on separable words: fits meeting the same gradient
            assert row.objective <= 1.01 * alone.objective  # tolerance stop at different points along the way
    assert search.table.iterations.sum() < 9 * FAST.max_iter


@pytest.mark.parametrize("solver", ["owlqn", "fista"])
def test_retraining_warm_started_from_the_full_probe_reaches_the_cold_optimum_faster(planted, solver):
    data, _ = planted
    settings = dataclasses.replace(FAST, solver=solver, l1=1e-3, l2=1e-3, tol=1e-5)
    acts, labels = data.train[:2]
    full = train_probe(acts, labels, settings=settings, progress=False)
    keep = global_order(full.scaled_weights)[:30]
    cold = train_probe(acts[:, keep], labels, settings=settings, progress=False)
    warm = train_probe(acts[:, keep], labels, settings=settings, progress=False,
                       init=(full.weights[:, keep], full.bias))
    assert cold.converged and warm.converged
    assert warm.objective == pytest.approx(cold.objective, rel=1e-4)
    np.testing.assert_allclose(warm.weights, cold.weights, atol=1e-2 * np.abs(cold.weights).max())
    assert warm.epochs_run < cold.epochs_run


def test_warm_start_is_checked():
    data, _ = synthetic_splits(n_words=300, n_neurons=8, n_labels=3, planted=1, seed=0)
    acts, labels = data.train[:2]
    with pytest.raises(ValueError, match="Adam"):
        train_probe(acts, labels, settings=ADAM, progress=False, init=(np.zeros((3, 8)), np.zeros(3)))
    with pytest.raises(ValueError, match=r"\(labels, neurons\) = \(3, 8\)"):
        train_probe(acts, labels, settings=FAST, progress=False, init=(np.zeros((3, 5)), np.zeros(3)))


def test_lambda_search_runs_with_adam(planted):
    data, _ = planted
    search = lambda_search(data.train[:2], data.dev[:2], grid=(0.0, 1.0),
                           settings=dataclasses.replace(ADAM, dev_use="report", epochs=3), progress=False)
    assert len(search.table) == 4 and (search.l1, search.l2) == (0.0, 0.0)


def test_control_labels_are_fixed_per_word_type_across_splits(planted):
    data, _ = planted
    control = control_splits(data, seed=5)
    mapping = {}
    for part in (control.train, control.dev, control.test):
        for word, label in zip(part[2], part[1]):
            assert mapping.setdefault(word, label) == label
    assert set(mapping.values()) <= set(data.train[1])
    task = ControlTask.from_labels(data.train[1], seed=5)
    assert task.labels(["never-seen", "never-seen"])[0] == task.labels(["never-seen"])[0] in task.classes
    assert not np.array_equal(ControlTask.from_labels(data.train[1], seed=6).labels(data.train[2]), control.train[1])


def test_control_labels_follow_the_label_distribution():
    task = ControlTask(classes=("x", "y"), probs=(0.8, 0.2), seed=0)
    share = np.mean(task.labels([f"w{i}" for i in range(5000)]) == "x")
    assert 0.77 < share < 0.83


def test_probe_is_selective_for_the_property(planted):
    data, _ = planted
    result = selectivity(data, FAST, seed=0)
    assert result.property_accuracy > 0.9
    assert result.selectivity == pytest.approx(result.property_accuracy - result.control_accuracy)
    assert result.selectivity > 0.1
    found = result.interval(np.arange(len(data.test[1])) // 5, n_boot=300)
    assert found.low < result.selectivity < found.high and found.low > 0
