"""EM as map-reduce on Dask arrays (emtutor.mapreduce) against the in-memory fits.

Every fit runs on a ``dask.distributed.LocalCluster`` of two single-threaded
workers, started for this module and shut down after it.  The oracle is
the in-memory fit of the same model from the same start: map-reduce EM
computes the same iterations, only its sums are added in another order, so
the parameters agree to 1e-10, the number of iterations is the same and
so is the path of the objective.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dask.array as da  # pinned in requirements.txt: a missing install fails here rather than skipping
import distributed
import numpy as np
import pytest

from emtutor import GaussianMixture, LatentDirichletAllocation, MissingNormal, gmm, lda, mapreduce, missing
from emtutor.em import ConvergenceWarning

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
#: Uneven row chunks, one of a single row, for the 300 points of ``_mixture_data``.
CHUNKS = (1, 57, 100, 42, 99, 1)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0", scheduler_port=0)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def _mixture_data(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 4.0, 4.0]])
    X = np.vstack([rng.normal(size=(100, 3)) * [1.0, 0.5, 2.0] + centre for centre in centres])
    return X[rng.permutation(len(X))] + 100.0  # away from the origin: the moments' centre matters


def _assert_same_run(a, b, rtol=1e-10):
    assert b.n_iter == a.n_iter
    assert b.converged == a.converged
    for x, y in zip(a.params, b.params):
        if x is None:
            assert y is None
            continue
        np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(b.objectives, a.objectives, rtol=rtol, atol=0)


@pytest.mark.parametrize("covariance_type, reg_covar", [(kind, 1e-6) for kind in COVARIANCE_TYPES] + [("full", 0.0)])
def test_gmm_parity_explicit_start(client, covariance_type, reg_covar):
    X = _mixture_data()
    start = gmm.initial_params(X, 3, covariance_type=covariance_type, random_state=5)
    kwargs = dict(covariance_type=covariance_type, weights=start.weights, means=start.means,
                  covariances=start.covariances, reg_covar=reg_covar, tol=1e-7, max_iter=500)
    a = gmm.fit(X, 3, **kwargs)
    b = mapreduce.fit_gmm(da.from_array(X, chunks=(CHUNKS, 3)), 3, **kwargs)
    assert a.n_iter > 5  # a real run, not one step
    _assert_same_run(a, b)
    assert b.expectations.n_samples == len(X)  # the reduced statistics count every point once
    np.testing.assert_allclose(b.expectations.counts, a.resp.sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(b.expectations.centre, X.mean(axis=0), rtol=1e-14)  # kept, not added


@pytest.mark.parametrize("covariance_type, n_init", [("full", 2), ("tied", 1), ("diag", 1), ("spherical", 1)])
def test_gmm_parity_default_start(client, covariance_type, n_init):
    """Fewer points than ``init_sample_size``: the start is the in-memory fit's (same random_state)."""
    X = _mixture_data(1)
    a = gmm.fit(X, 3, covariance_type=covariance_type, random_state=3, n_init=n_init)
    b = mapreduce.fit_gmm(da.from_array(X, chunks=(CHUNKS, 3)), 3, covariance_type=covariance_type,
                          random_state=3, n_init=n_init)
    _assert_same_run(a, b)
    np.testing.assert_allclose(b.restarts.log_likelihoods, a.restarts.log_likelihoods, rtol=1e-10)


def test_gmm_given_means_default_covariances(client):
    """Means given, covariances not: the covariance of all the data, summed in the first pass."""
    X = _mixture_data(1)
    means = X[[0, 100, 200]]
    a = gmm.fit(X, 3, means=means, covariance_type="diag")
    b = mapreduce.fit_gmm(da.from_array(X, chunks=(CHUNKS, 3)), 3, means=means, covariance_type="diag")
    _assert_same_run(a, b)
    b = mapreduce.fit_gmm(da.from_array(X, chunks=(CHUNKS, 3)), 3, means=means, covariance_type="diag", record=True)
    np.testing.assert_allclose(b.history.params[0].covariances, np.tile(np.var(X, axis=0) + 1e-6, (3, 1)), rtol=1e-12)


def test_gmm_sampled_start_is_reproducible(client):
    """More points than ``init_sample_size``: the means come from a sample drawn with random_state."""
    X = da.from_array(_mixture_data(2), chunks=(CHUNKS, 3))
    fits = []
    for seed in (7, 7, 8):
        with pytest.warns(ConvergenceWarning):
            fits.append(mapreduce.fit_gmm(X, 3, random_state=seed, init_sample_size=50, max_iter=2, tol=0.0,
                                          record=True))
    np.testing.assert_array_equal(fits[0].history.params[0].means, fits[1].history.params[0].means)
    assert not np.allclose(fits[0].history.params[0].means, fits[2].history.params[0].means)
    # the means are sampled points of X
    starts = fits[0].history.params[0].means
    assert all(np.any(np.all(_mixture_data(2) == mean, axis=1)) for mean in starts)


def test_gmm_far_component_second_pass(client):
    """A narrow component far from the data mean takes the M-step's second pass, chunk-wise too."""
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(size=(200, 2)), 1e4 + 1e-3 * rng.normal(size=(40, 2))])
    start = gmm.GMMParams(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1e4, 1e4]]),
                          np.array([np.eye(2), 1e-6 * np.eye(2)]))
    for covariance_type in COVARIANCE_TYPES:
        covariances = gmm.COVARIANCE_TYPES[covariance_type].from_full(np.eye(2), 2)
        if covariance_type in ("full",):
            covariances = start.covariances
        kwargs = dict(covariance_type=covariance_type, weights=start.weights, means=start.means,
                      covariances=covariances, tol=1e-10, max_iter=50)
        a = gmm.fit(X, 2, **kwargs)
        b = mapreduce.fit_gmm(da.from_array(X, chunks=((1, 100, 139), 2)), 2, **kwargs)
        _assert_same_run(a, b, rtol=1e-9)


def test_columns_in_several_chunks_are_merged(client):
    X = _mixture_data()
    start = gmm.initial_params(X, 3, random_state=0)
    kwargs = dict(weights=start.weights, means=start.means, covariances=start.covariances, tol=1e-8)
    a = gmm.fit(X, 3, **kwargs)
    b = mapreduce.fit_gmm(da.from_array(X, chunks=((150, 150), (1, 2))), 3, **kwargs)
    _assert_same_run(a, b)


def _missing_data(seed=0):
    rng = np.random.default_rng(seed)
    cov = np.array([[2.0, 0.8, 0.3], [0.8, 1.0, -0.4], [0.3, -0.4, 1.5]])
    X = rng.multivariate_normal([10.0, -3.0, 50.0], cov, size=300)
    X[rng.random(X.shape) < 0.25] = np.nan
    X[7] = np.nan  # a row with nothing observed
    return X


@pytest.mark.parametrize("reg_covar", [0.0, 1e-3])
def test_missing_parity(client, reg_covar):
    X = _missing_data()
    a = missing.fit(X, tol=1e-10, reg_covar=reg_covar)
    b = mapreduce.fit_missing(da.from_array(X, chunks=(CHUNKS, 3)), tol=1e-10, reg_covar=reg_covar)
    assert a.n_iter > 5
    _assert_same_run(a, b)
    assert b.n_patterns == missing.group_patterns(X).n_patterns


def _counts(seed=0, n_docs=80, n_words=30):
    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(n_words, 0.2), size=3)
    theta = rng.dirichlet(np.full(3, 0.3), size=n_docs)
    C = np.vstack([rng.multinomial(rng.integers(5, 40), p) for p in theta @ topics])
    C[5] = 0  # a document with no words
    return C


@pytest.mark.parametrize("eta, fit_alpha", [(None, False), (0.1, True)])
def test_lda_parity(client, eta, fit_alpha):
    C = _counts()
    kwargs = dict(eta=eta, fit_alpha=fit_alpha, random_state=2, tol=1e-5, max_iter=200)
    a = lda.fit(C, 3, **kwargs)
    b = mapreduce.fit_lda(da.from_array(C, chunks=((1, 30, 1, 48), 30)), 3, **kwargs)
    assert a.n_iter > 5
    # alpha's update is itself an iteration (alpha_newton, stopped at a relative step of
    # 1e-10), so with fit_alpha the sums' rounding moves alpha by about 1e-10, and each
    # document's E-step (stopped at a mean change of e_step_tol) turns that into 1e-8
    rtol = 1e-6 if fit_alpha else 1e-10
    _assert_same_run(a, b, rtol)
    np.testing.assert_allclose(b.gamma, a.expectations.gamma, rtol=rtol)


def test_estimators_fit_dask_arrays(client):
    X = _mixture_data()
    for covariance_type in ("full", "diag"):
        a = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
        b = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
            da.from_array(X, chunks=(CHUNKS, 3)))
        assert b.n_iter_ == a.n_iter_
        np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-10)
        np.testing.assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-12)
        np.testing.assert_array_equal(b.predict(X), a.predict(X))
    Xm = _missing_data()
    a, b = MissingNormal().fit(Xm), MissingNormal().fit(da.from_array(Xm, chunks=(CHUNKS, 3)))
    np.testing.assert_allclose(b.covariance_, a.covariance_, rtol=1e-10)
    assert (b.n_iter_, b.n_patterns_) == (a.n_iter_, a.n_patterns_)
    C = _counts(1)
    a = LatentDirichletAllocation(3, random_state=0).fit(C)
    b = LatentDirichletAllocation(3, random_state=0).fit(da.from_array(C, chunks=(17, 30)))
    np.testing.assert_allclose(b.components_, a.components_, rtol=1e-10)
    np.testing.assert_allclose(b.gamma_, a.gamma_, rtol=1e-10)
    # the default five short starts: the same start kept, continued alike
    assert len(b.restarts_.log_likelihoods) == 5 and b.restarts_.best == a.restarts_.best
    np.testing.assert_allclose(b.restarts_.log_likelihoods, a.restarts_.log_likelihoods, rtol=1e-12)
    np.testing.assert_allclose(b.objectives_, a.objectives_, rtol=1e-12)


def test_responsibilities_as_dask_array(client):
    X = _mixture_data()
    result = gmm.fit(X, 3, random_state=0)
    resp = mapreduce.responsibilities(da.from_array(X, chunks=(CHUNKS, 3)), result.params)
    assert isinstance(resp, da.Array) and resp.shape == (300, 3)
    np.testing.assert_allclose(resp.compute(), result.resp, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("split_every", [2, 3, 4, 7])
def test_tree_sum_counts_every_chunk_once(split_every):
    """Brute force: the tree adds n distinct powers of two, so a dropped or doubled chunk shows.

    (The tree's shape is what is tested: the synchronous scheduler computes it.)
    """
    import dask

    for n in range(1, 20):
        parts = [dask.delayed(float(2**i)) for i in range(n)]
        (total,) = dask.compute(mapreduce.chunk_tree_sum(parts, split_every), scheduler="synchronous")
        assert total == 2.0**n - 1, (n, split_every)


def test_bad_input_named(client):
    X = _mixture_data()
    bad = X.copy()
    bad[150, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf.*chunk of rows from 100"):
        mapreduce.fit_gmm(da.from_array(bad, chunks=100), 3)
    with pytest.raises(ValueError, match="X must be a real array"):
        mapreduce.fit_gmm(da.from_array(X.astype(complex), chunks=100), 3)
    with pytest.raises(TypeError, match="X must be a numeric array"):
        mapreduce.fit_gmm(da.from_array(X.astype(str), chunks=100), 3)
    with pytest.raises(ValueError, match="X must be 2-D"):
        mapreduce.fit_gmm(da.from_array(X[:, 0], chunks=100), 3)
    unknown = da.from_array(X, chunks=100)
    unknown = unknown[unknown[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        mapreduce.fit_gmm(unknown, 3)
    with pytest.raises(TypeError, match="X must be a dask.array.Array"):
        mapreduce.fit_gmm(X, 3)
    with pytest.raises(ValueError, match="n_components"):
        mapreduce.fit_gmm(da.from_array(X, chunks=100), 301)
    with pytest.raises(ValueError, match="mean_prior given"):
        GaussianMixture(3, mean_prior=np.zeros(3)).fit(da.from_array(X, chunks=100))
    inf_missing = _missing_data()
    inf_missing[3, 0] = np.inf
    with pytest.raises(ValueError, match="X contains inf"):
        mapreduce.fit_missing(da.from_array(inf_missing, chunks=100))
    empty_column = _missing_data()
    empty_column[:, 2] = np.nan
    with pytest.raises(ValueError, match="column 2 of X has no observed value"):
        mapreduce.fit_missing(da.from_array(empty_column, chunks=100))
    C = _counts().astype(float)
    C[10, 3] = -1
    with pytest.raises(ValueError, match="X.*chunk of rows from 0"):
        mapreduce.fit_lda(da.from_array(C, chunks=50), 3)
    with pytest.raises(ValueError, match="init_max_iter"):
        LatentDirichletAllocation(3, init_max_iter=0).fit(da.from_array(_counts(), chunks=50))


def test_emtutor_imports_without_dask():
    """Dask is optional: emtutor and its estimators import and fit without it."""
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "dask" or name.startswith("dask.") or name == "distributed":
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        import numpy as np
        import emtutor
        from emtutor import GaussianMixture, mapreduce
        X = np.random.default_rng(0).normal(size=(50, 2))
        GaussianMixture(2, random_state=0).fit(X)
        assert not mapreduce.is_dask_array(X)
        assert not any(name == "dask" or name.startswith("dask.") for name in sys.modules)
        try:
            mapreduce.fit_gmm(X, 2)
        except ImportError as error:
            assert "pip install" in str(error), error
        else:
            raise AssertionError("no ImportError")
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
