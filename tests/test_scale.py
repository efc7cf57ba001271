"""Scaling features: torch.compile, memory bounds, the FAISS kNN backend,
Hugging Face Accelerate and grid search on a Dask cluster.

Optional packages (faiss, accelerate, dask.distributed) are skipped when absent.
Two tests are opt-in through environment variables because they are slow:

* ``SKLEARN_RMD_TEST_COMPILE=1``: a fit compiled by the default inductor
  backend (cold compilation took 23-89 s on a shared 2-core CPU);
* ``SKLEARN_RMD_TEST_MULTIPROCESS=1``: ``examples/accelerate_rmd.py`` on two
  CPU processes through ``torchrun`` (DistributedDataParallel over gloo).
"""

import importlib.util
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import brute_force_knn, fast, fast_detector, record_calls, requires_cuda
from sklearn.model_selection import GridSearchCV

from sklearn_rmd import classifier as classifier_module
from sklearn_rmd import graph, losses, nets
from sklearn_rmd.graph import knn_graph
from sklearn_rmd.modules import SimSiamModule, make_encoder
from sklearn_rmd.nets import RMDNet, SimSiamNet

ROOT = Path(__file__).resolve().parent.parent
has_faiss = importlib.util.find_spec("faiss") is not None
has_accelerate = importlib.util.find_spec("accelerate") is not None
has_distributed = importlib.util.find_spec("distributed") is not None
requires_faiss = pytest.mark.skipif(not has_faiss, reason="faiss is not installed")
requires_accelerate = pytest.mark.skipif(not has_accelerate,
                                         reason="accelerate is not installed")


# ------------------------------------------------------------------- compile
def test_compile_wraps_the_network_not_the_criterion(tabular):
    X, y = tabular
    clf = fast(compile=True)
    clf.device_ = "cpu"  # what fit resolves before building the nets
    kwargs = clf._net_kwargs(len(X), seed=0)
    assert kwargs["compile"] is True
    net = SimSiamNet(SimSiamModule(make_encoder(6, embedding_dim=8), 8, 16), augment=lambda x: x,
                     max_epochs=1, **kwargs)
    net.initialize()  # torch.compile is lazy: nothing is compiled yet
    assert isinstance(net.module_, torch._dynamo.eval_frame.OptimizedModule)
    assert not isinstance(net.criterion_, torch._dynamo.eval_frame.OptimizedModule)


def test_compile_dict_is_passed_to_torch_compile(tabular):
    X, y = tabular
    clf = fast(compile={"backend": "eager", "dynamic": True})
    clf.device_ = "cpu"  # what fit resolves before building the nets
    kwargs = clf._net_kwargs(len(X), seed=0)
    assert kwargs["compile"] is True
    assert kwargs["compile__backend"] == "eager" and kwargs["compile__dynamic"] is True


@pytest.mark.parametrize("value", ["yes", 1.5])
def test_compile_rejects_other_values(tabular, value):
    X, y = tabular
    with pytest.raises(ValueError, match="compile="):
        fast(compile=value).fit(X, y)


def test_compiled_fit_through_dynamo(tabular):
    """Both stages traced by TorchDynamo (eager backend: no code generation)."""
    X, y = tabular
    params = dict(pretrain_epochs=1, max_epochs=2, early_stopping=False)
    compiled = fast(compile={"backend": "eager"}, **params).fit(X, y)
    plain = fast(**params).fit(X, y)
    assert isinstance(compiled.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    assert isinstance(compiled.teacher_.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    np.testing.assert_allclose(compiled.predict_proba(X), plain.predict_proba(X), atol=1e-5)
    restored = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_allclose(restored.predict_proba(X), compiled.predict_proba(X), atol=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SKLEARN_RMD_TEST_COMPILE") != "1",
                    reason="cold inductor compilation is slow on a CPU; set "
                           "SKLEARN_RMD_TEST_COMPILE=1 to run")
def test_compiled_fit_with_inductor(tabular):
    X, y = tabular
    params = dict(pretrain_epochs=1, max_epochs=2, early_stopping=False)
    compiled = fast(compile=True, **params).fit(X, y)
    plain = fast(**params).fit(X, y)
    np.testing.assert_allclose(compiled.predict_proba(X), plain.predict_proba(X), atol=1e-2)
    proba = pickle.loads(pickle.dumps(compiled)).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


# ------------------------------------------------------------- memory bounds
def test_relation_matrices_are_batch_by_batch(tabular, monkeypatch):
    X, y = tabular  # 160 rows, batches of 32
    calls = record_calls(monkeypatch, losses, "node_matching")
    fast(max_epochs=2, early_stopping=False, node_weight=1.0).fit(X, y)
    assert calls
    assert max(args[0].shape[0] for args, _ in calls) <= 32


def test_knn_graph_default_chunks_bound_the_block(monkeypatch):
    X = np.random.RandomState(0).randn(300, 8)
    blocks = []
    original = torch.Tensor.__matmul__

    def matmul(a, b):
        out = original(a, b)
        blocks.append(out.numel())
        return out

    monkeypatch.setattr(graph, "_BLOCK_ENTRIES", 3000)  # 10 rows of 300 per block
    monkeypatch.setattr(torch.Tensor, "__matmul__", matmul)
    indices, similarities = knn_graph(X, n_neighbors=5, backend="torch")
    monkeypatch.undo()
    assert max(blocks) <= 3000 and len(blocks) == 30
    expected_indices, expected_similarities = brute_force_knn(X, 5)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(similarities, expected_similarities, atol=1e-5)


def test_knn_graph_rejects_bad_backend_and_chunk():
    X = np.random.RandomState(0).randn(20, 3)
    with pytest.raises(ValueError, match="backend"):
        knn_graph(X, 3, backend="annoy")
    with pytest.raises(ValueError, match="chunk_size"):
        knn_graph(X, 3, chunk_size=0)


def test_faiss_backend_without_faiss_says_how_to_install(monkeypatch):
    monkeypatch.setattr(graph, "_faiss", lambda: None)
    with pytest.raises(ImportError, match=r"pip install '\.\[faiss\]'"):
        knn_graph(np.random.RandomState(0).randn(20, 3), 3, backend="faiss")
    # 'auto' falls back to torch.
    monkeypatch.setattr(graph, "FAISS_MIN_ROWS", 10)
    assert knn_graph(np.random.RandomState(0).randn(20, 3), 3)[0].shape == (20, 3)


# --------------------------------------------------------------------- faiss
@requires_faiss
@pytest.mark.parametrize("n_features", [3, 64])
def test_faiss_and_torch_backends_agree(n_features):
    X = np.random.RandomState(n_features).randn(1500, n_features).astype(np.float32)
    torch_indices, torch_similarities = knn_graph(X, 10, backend="torch")
    faiss_indices, faiss_similarities = knn_graph(X, 10, backend="faiss")
    assert faiss_indices.dtype == np.int64 and faiss_similarities.dtype == np.float32
    np.testing.assert_allclose(faiss_similarities, torch_similarities, atol=1e-5)
    # Exact search both: indices differ only where similarities (nearly) tie.
    same = faiss_indices == torch_indices
    assert same.mean() > 0.999
    gap = np.abs(torch_similarities[~same] - faiss_similarities[~same])
    assert np.all(gap < 1e-5)


@requires_faiss
def test_faiss_backend_excludes_self_with_duplicates():
    X = np.random.RandomState(1).randn(10, 4)
    X = np.concatenate([X, X, X])  # three identical copies of each row
    indices, similarities = knn_graph(X, n_neighbors=3, backend="faiss")
    rows = np.arange(30)
    assert np.all(indices != rows[:, None])
    copies = np.sort(indices[:, :2], axis=1)
    expected = np.sort(np.stack([(rows + 10) % 30, (rows + 20) % 30], axis=1), axis=1)
    np.testing.assert_array_equal(copies, expected)
    np.testing.assert_allclose(similarities[:, :2], 1.0, atol=1e-5)


@requires_faiss
def test_auto_backend_uses_faiss_for_large_cpu_graphs(monkeypatch):
    calls = record_calls(monkeypatch, graph, "_knn_faiss")
    X = np.random.RandomState(0).randn(50, 4)
    knn_graph(X, 3)
    assert not calls
    monkeypatch.setattr(graph, "FAISS_MIN_ROWS", 50)
    indices, _ = knn_graph(X, 3)
    assert len(calls) == 1
    np.testing.assert_array_equal(indices, brute_force_knn(X, 3)[0])


def _clustered_rows(n=2000, n_features=16, n_centres=20, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.randn(n_centres, n_features) * 3
    return (centres[rng.randint(n_centres, size=n)] + rng.randn(n, n_features)).astype(
        np.float32)


@requires_faiss
def test_hnsw_backend_finds_most_exact_neighbours_with_their_similarities(monkeypatch):
    built = record_calls(monkeypatch, graph, "_hnsw_index")
    X = _clustered_rows()
    indices, similarities = knn_graph(X, 10, backend="hnsw")
    assert len(built) == 1
    exact, _ = brute_force_knn(X, 10)
    assert indices.shape == (2000, 10) and indices.dtype == np.int64
    assert np.all(indices != np.arange(2000)[:, None])
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(indices, exact)])
    assert recall > 0.95
    # The similarities are the true cosines of the returned rows, best first.
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    true = np.einsum("nd,nkd->nk", unit, unit[indices])
    np.testing.assert_allclose(similarities, true, atol=1e-5)
    assert np.all(np.diff(similarities, axis=1) <= 1e-6)


@requires_faiss
def test_hnsw_backend_repeats_and_excludes_self_with_duplicates():
    X = _clustered_rows(600, seed=1)
    first, second = knn_graph(X, 5, backend="hnsw"), knn_graph(X, 5, backend="hnsw")
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    duplicated = np.concatenate([X[:10]] * 3)
    indices, similarities = knn_graph(duplicated, 2, backend="hnsw")
    assert np.all(indices != np.arange(30)[:, None])
    np.testing.assert_allclose(similarities, 1.0, atol=1e-5)


@requires_faiss
def test_hnsw_graph_is_built_on_one_thread_and_searched_on_all(monkeypatch):
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(3)
    settings = record_calls(monkeypatch, faiss, "omp_set_num_threads")
    try:
        knn_graph(_clustered_rows(300), 5, backend="hnsw")
        assert [args for args, _ in settings] == [(1,), (3,)]
        assert faiss.omp_get_max_threads() == 3
    finally:
        faiss.omp_set_num_threads(threads)


@requires_faiss
def test_hnsw_rows_it_cannot_fill_are_searched_exactly(monkeypatch):
    # Among 2000 identical rows the HNSW walk returns fewer than 61 rows
    # (FAISS pads with -1); those rows fall back to the exact index.
    fallback = record_calls(monkeypatch, graph, "_exact_index")
    indices, similarities = knn_graph(np.ones((2000, 8)), 60, backend="hnsw")
    assert len(fallback) == 1
    assert np.all((indices >= 0) & (indices != np.arange(2000)[:, None]))
    np.testing.assert_allclose(similarities, 1.0, atol=1e-5)


@requires_faiss
def test_auto_backend_goes_approximate_only_for_very_large_cpu_graphs(monkeypatch):
    calls = record_calls(monkeypatch, graph, "_knn_faiss")
    monkeypatch.setattr(graph, "FAISS_MIN_ROWS", 50)
    monkeypatch.setattr(graph, "HNSW_MIN_ROWS", 100)
    knn_graph(np.random.RandomState(0).randn(99, 4), 3)
    knn_graph(_clustered_rows(100), 3)
    assert [kwargs.get("approximate", False) for _, kwargs in calls] == [False, True]


@requires_faiss
def test_auto_backend_goes_approximate_from_fewer_rows_for_learned_embeddings(monkeypatch):
    calls = record_calls(monkeypatch, graph, "_knn_faiss")
    monkeypatch.setattr(graph, "FAISS_MIN_ROWS", 50)
    monkeypatch.setattr(graph, "HNSW_MIN_ROWS", 200)
    monkeypatch.setattr(graph, "EMBEDDING_HNSW_MIN_ROWS", 100)
    rows = _clustered_rows(100)
    knn_graph(rows, 3)
    knn_graph(rows, 3, learned=True)
    knn_graph(rows[:99], 3, learned=True)
    assert [kwargs.get("approximate", False) for _, kwargs in calls] == [False, True, False]


@pytest.mark.parametrize("spaces, learned", [(("teacher",), True), (("teacher", "input"), False),
                                             (("input",), False)])
def test_only_the_teacher_space_graph_counts_as_learned(monkeypatch, spaces, learned):
    calls = record_calls(monkeypatch, classifier_module, "knn_graph")
    X = _clustered_rows(120).astype(np.float32)
    y = np.arange(120) % 3
    fast(neighbor_spaces=spaces, max_epochs=1).fit(X, y)
    assert calls[0][1]["learned"] is learned


def test_the_detectors_teacher_graph_counts_as_learned(monkeypatch):
    calls = record_calls(monkeypatch, graph, "knn_graph")
    X = _clustered_rows(120).astype(np.float32)
    fast_detector(neighbor_spaces=("input", "teacher")).fit(X, np.arange(120) % 3)
    learned = [kwargs.get("learned", False) for _, kwargs in calls]
    assert learned[:2] == [False, True]


def test_hnsw_backend_without_faiss_says_how_to_install(monkeypatch):
    monkeypatch.setattr(graph, "_faiss", lambda: None)
    with pytest.raises(ImportError, match=r"pip install '\.\[faiss\]'"):
        knn_graph(np.random.RandomState(0).randn(20, 3), 3, backend="hnsw")


@requires_faiss
@requires_cuda
def test_auto_backend_keeps_cuda_graphs_on_torch(monkeypatch):
    calls = record_calls(monkeypatch, graph, "_knn_faiss")
    monkeypatch.setattr(graph, "FAISS_MIN_ROWS", 10)
    monkeypatch.setattr(graph, "HNSW_MIN_ROWS", 10)
    X = np.random.RandomState(0).randn(300, 16)
    indices, similarities = knn_graph(X, 5, device="cuda")
    assert not calls
    expected_indices, expected_similarities = brute_force_knn(X, 5)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(similarities, expected_similarities, atol=1e-4)


# ---------------------------------------------------------------- accelerate
@pytest.fixture
def cpu_accelerator():
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def test_teacher_is_never_broadcast_by_ddp():
    from sklearn_rmd.losses import cross_entropy

    teacher = make_encoder(6, hidden_dims=(8,), embedding_dim=4)
    graph = (np.zeros((10, 2), dtype=np.int64), np.ones((10, 2), dtype=np.float32))
    online = losses.RelationDistillationLoss(cross_entropy, 4, 3, graph=graph,
                                             teacher_encoder=teacher, teacher_dim=4,
                                             relation_dim=4, node_weight=1.0)
    ignored = set(online._ddp_params_and_buffers_to_ignore)
    expected = {f"teacher_encoder.{name}" for name, _ in teacher.named_parameters()}
    expected |= {f"teacher_encoder.{name}" for name, _ in teacher.named_buffers()}
    expected |= {"teacher_features", "node_teacher.weight", "neighbors", "neighbor_weights",
                 "predictions", "seen"}
    assert expected == ignored
    assert not any(name.startswith("node_student") for name in ignored)  # trained: synchronised
    precomputed = losses.RelationDistillationLoss(cross_entropy, 4, 3, graph=graph)
    assert set(precomputed._ddp_params_and_buffers_to_ignore) == {
        "neighbors", "neighbor_weights", "predictions", "seen"}
    mixture = losses.RelationDistillationLoss(cross_entropy, 4, 3, graph=graph,
                                              loss_mixture=True)
    assert set(mixture._ddp_params_and_buffers_to_ignore) == {
        "neighbors", "neighbor_weights", "predictions", "seen", "labels", "clean_weights"}


def test_release_accelerator_leaves_plain_nets_alone():
    net = RMDNet(torch.nn.Linear(2, 2), torch.nn.MSELoss)
    assert nets.release_accelerator(net, "cpu") is net and type(net) is RMDNet


def test_accelerator_must_be_an_accelerator(tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="accelerator="):
        fast(accelerator="cuda").fit(X, y)


@requires_accelerate
def test_accelerated_stage_nets(tabular, cpu_accelerator):
    X, y = tabular
    clf = fast(accelerator=cpu_accelerator)
    clf.device_ = "cpu"  # what fit resolves before building the nets
    kwargs = clf._net_kwargs(len(X), seed=0)
    assert kwargs["accelerator"] is cpu_accelerator and kwargs["device"] is None
    assert kwargs["use_caching"] is False
    assert kwargs["iterator_train"] is torch.utils.data.DataLoader
    assert clf._stage_net(SimSiamNet) is nets.AcceleratedSimSiamNet
    assert clf._stage_net(RMDNet) is nets.AcceleratedRMDNet
    assert issubclass(nets.AcceleratedRMDNet, RMDNet)


@requires_accelerate
def test_fit_with_accelerator_on_cpu(tabular, cpu_accelerator, monkeypatch):
    X, y = tabular
    built = record_calls(monkeypatch, nets.AcceleratedRMDNet, "initialize")
    clf = fast(accelerator=cpu_accelerator, early_stopping=True, n_iter_no_change=2,
               validation_fraction=0.2, max_epochs=4).fit(X, y)
    assert len(built) == 1
    assert clf.device_ == "cpu"
    # After fit the nets are plain again: no accelerator, on-device loader.
    assert type(clf.net_) is RMDNet and type(clf.teacher_.net_) is SimSiamNet
    assert not hasattr(clf.net_, "accelerator")
    assert "valid_acc" in clf.history_[-1] and "train_edge" in clf.history_[-1]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.score(X, y) > 0.5
    restored = pickle.loads(pickle.dumps(clf.set_params(accelerator=None)))
    np.testing.assert_allclose(restored.predict_proba(X), proba, atol=1e-6)
    assert clf.embed(X[:4], source="teacher").shape == (4, 8)


@requires_accelerate
def test_accelerated_fit_matches_in_quality(tabular, cpu_accelerator):
    X, y = tabular
    params = dict(pretrain_epochs=2, max_epochs=8, early_stopping=False)
    accelerated = fast(accelerator=cpu_accelerator, **params).fit(X, y)
    plain = fast(**params).fit(X, y)
    # Different batch order (DataLoader vs on-device loader), same method.
    assert abs(accelerated.score(X, y) - plain.score(X, y)) < 0.1


@requires_accelerate
@requires_cuda
def test_fit_with_accelerator_on_cuda_bf16(tabular):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    X, y = tabular
    try:
        accelerator = Accelerator(mixed_precision="bf16")
        clf = fast(accelerator=accelerator, device="cpu", max_epochs=4).fit(X, y)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    assert clf.device_.startswith("cuda")  # device='cpu' is ignored under an accelerator
    assert next(clf.net_.module_.parameters()).is_cuda
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.score(X, y) > 0.5


@requires_cuda
def test_compiled_fit_on_cuda(tabular):
    X, y = tabular
    clf = fast(device="cuda", compile=True, pretrain_epochs=1, max_epochs=2,
               early_stopping=False).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
@requires_accelerate
@pytest.mark.skipif(os.environ.get("SKLEARN_RMD_TEST_MULTIPROCESS") != "1",
                    reason="launches two processes (about 30 s); set "
                           "SKLEARN_RMD_TEST_MULTIPROCESS=1 to run")
def test_two_process_accelerate_launch(tmp_path):
    env = dict(os.environ, ACCELERATE_USE_CPU="true", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               str(ROOT / "examples" / "accelerate_rmd.py"), "--n-samples", "1200",
               "--pretrain-epochs", "1", "--max-epochs", "6",
               "--save", str(tmp_path / "model.pkl")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es)" in result.stdout
    with open(tmp_path / "model.pkl", "rb") as f:
        model = pickle.load(f)
    assert type(model.net_) is RMDNet and model.accelerator is None


# ---------------------------------------------------------------------- dask
@pytest.mark.slow
@pytest.mark.skipif(not has_distributed, reason="dask.distributed is not installed")
def test_grid_search_on_a_dask_cluster(tabular):
    import joblib
    from distributed import Client, LocalCluster

    X, y = tabular
    grid = {"relation_weight": [0.0, 10.0]}
    params = dict(pretrain_epochs=1, max_epochs=2, early_stopping=False)
    local = GridSearchCV(fast(**params), grid, cv=2).fit(X, y)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster):
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(fast(**params), grid, cv=2, n_jobs=-1).fit(X, y)
    # CPU fits with a fixed random_state are repeatable: same scores, same winner.
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))


# ----------------------------------------------------------------- benchmark
@pytest.mark.slow
def test_scaling_benchmark_smoke_run(tmp_path):
    """The benchmark script end to end on a tiny size (two processes, ~10 s)."""
    out = tmp_path / "scaling"
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_scaling.py"), "--sizes", "300",
               "--methods", "rmd", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    results = json.loads(out.with_suffix(".json").read_text())
    assert [(r["method"], r["n"]) for r in results["runs"]] == [("rmd", 300)]
    assert all("seconds" in r and r["extra_mb"] is not None for r in results["runs"])
    run = results["runs"][0]
    assert len(run["stage1_dur"]) == 2 and len(run["stage2_dur"]) == 3
    assert "## Targets" in out.with_suffix(".md").read_text()
