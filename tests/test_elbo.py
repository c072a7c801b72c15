"""The ELBO decomposition log p(x) = ELBO(q, theta) + KL(q || p(z | x, theta))."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from emtutor import coins, datasets, elbo, gmm


def random_gmm(rng, k=3, d=2):
    A = rng.normal(size=(k, d, d))
    covariances = A @ A.transpose(0, 2, 1) + 0.3 * np.eye(d)
    weights = rng.dirichlet(np.ones(k))
    return gmm.GMMParams(weights, rng.normal(scale=3, size=(k, d)), covariances)


def random_q(rng, n, k):
    return rng.dirichlet(np.ones(k) * 0.7, size=n)


def test_gmm_decompose_is_the_identity_for_any_q_and_tight_at_the_e_step(rng):
    """What emtutor.elbo.gmm_decompose is for: log p(X) = ELBO + KL for any q
    (log p(X) from SciPy's densities), with KL = 0 at the E-step's q."""
    params = random_gmm(rng)
    X = rng.normal(scale=3, size=(40, 2))
    dens = np.column_stack([w * multivariate_normal.pdf(X, m, c)
                            for w, m, c in zip(params.weights, params.means, params.covariances)])
    log_p = np.log(dens.sum(axis=1)).sum()
    loose = elbo.gmm_decompose(X, params, random_q(rng, 40, 3))
    assert loose.log_likelihood == pytest.approx(log_p, rel=1e-12)
    assert loose.elbo + loose.kl == pytest.approx(log_p, rel=1e-12) and loose.kl > 1.0
    tight = elbo.gmm_decompose(X, params)
    assert tight.kl == pytest.approx(0.0, abs=1e-10) and tight.elbo == pytest.approx(log_p, rel=1e-12)


def test_log_joint_matches_scipy_densities(rng):
    X = rng.normal(size=(20, 2))
    params = random_gmm(rng)
    expected = np.column_stack([
        np.log(w) + multivariate_normal.logpdf(X, m, c)
        for w, m, c in zip(params.weights, params.means, params.covariances)
    ])
    np.testing.assert_allclose(elbo.gmm_log_joint(X, params), expected, rtol=1e-12)


def test_elbo_equals_log_likelihood_after_e_step_seed_example():
    X, w, m, c = datasets.three_gaussians_init()
    parts = elbo.gmm_decompose(X, gmm.GMMParams(w, m, c))
    assert abs(parts.elbo - gmm.log_likelihood(X, gmm.GMMParams(w, m, c))) <= 1e-10 * max(1, abs(parts.elbo))
    assert parts.kl <= 1e-10


@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), n=st.integers(1, 30))
def test_decomposition_identity_bound_and_nonnegative_kl(seed, k, n):
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=4, size=(n, 2))
    params = random_gmm(rng, k)
    log_joint = elbo.gmm_log_joint(X, params)
    ll = gmm.log_likelihood(X, params)
    # tight after an E-step, to 1e-10
    resp, _ = gmm.e_step(X, params)
    tight = elbo.decompose(log_joint, resp)
    assert abs(tight.elbo - ll) <= 1e-10 * max(1.0, abs(ll))
    assert abs(tight.kl) <= 1e-10 * max(1.0, abs(ll))
    assert tight.log_likelihood == pytest.approx(ll, rel=1e-13)
    # any other q: a lower bound, the gap is the KL, and KL >= 0
    q = random_q(rng, n, k)
    parts = elbo.decompose(log_joint, q)
    assert parts.kl >= 0.0
    assert parts.elbo <= ll + 1e-10 * max(1.0, abs(ll))
    assert parts.elbo + parts.kl == pytest.approx(ll, rel=1e-10, abs=1e-10)
    assert parts.entropy >= 0.0
    assert parts.entropy <= n * np.log(k) + 1e-12


def test_kl_against_scipy_entropy(rng):
    from scipy.stats import entropy as scipy_entropy

    X = rng.normal(size=(15, 2))
    params = random_gmm(rng)
    q = random_q(rng, 15, 3)
    resp, _ = gmm.e_step(X, params)
    expected = sum(scipy_entropy(q[n], resp[n]) for n in range(15))
    assert elbo.kl_gap(elbo.gmm_log_joint(X, params), q) == pytest.approx(expected, rel=1e-10)
    assert elbo.entropy(q) == pytest.approx(sum(scipy_entropy(row) for row in q), rel=1e-12)


def test_brute_force_expected_complete_over_every_labelling(rng):
    """E_q[log p(x, z)] with q factorised over points, by enumerating all K^N labellings."""
    n, k = 4, 3
    log_joint = rng.normal(size=(n, k)) - 3
    q = random_q(rng, n, k)
    total = 0.0
    for labels in itertools.product(range(k), repeat=n):
        prob = np.prod([q[i, z] for i, z in enumerate(labels)])
        total += prob * sum(log_joint[i, z] for i, z in enumerate(labels))
    assert elbo.expected_complete_log_likelihood(log_joint, q) == pytest.approx(total, rel=1e-12)


def test_elbo_after_each_step_of_em_on_the_seed_example():
    """E-step: ELBO = LL (tight). M-step: the ELBO with the old q rises, and LL >= that ELBO."""
    X, w, m, c = datasets.three_gaussians_init()
    result = gmm.fit(X, 3, weights=w, means=m, covariances=c, reg_covar=0.0, record=True)
    hist = result.history
    for t in range(result.n_iter):
        q = hist.resp[t]  # the E-step of params[t]
        before = elbo.decompose(elbo.gmm_log_joint(X, hist.params[t]), q)
        after_m = elbo.decompose(elbo.gmm_log_joint(X, hist.params[t + 1]), q)
        assert abs(before.kl) <= 1e-9 and abs(before.elbo - before.log_likelihood) <= 1e-9
        assert after_m.elbo >= before.elbo - 1e-9
        assert after_m.log_likelihood >= after_m.elbo - 1e-9
        assert after_m.log_likelihood == pytest.approx(
            result.objectives[t], rel=1e-12
        )


def test_works_for_the_coin_mixture():
    data = coins.as_coin_data([5, 9, 8, 4, 7], 10)
    params = coins.CoinParams(np.array([0.5, 0.5]), np.array([0.6, 0.5]))
    resp, log_norm = coins.e_step(data, params)
    parts = elbo.decompose(coins.log_joint(data, params), resp)
    assert parts.elbo == pytest.approx(np.sum(log_norm), rel=1e-13)


def test_zero_q_where_log_joint_is_minus_infinity_is_fine():
    log_joint = np.array([[0.0, -np.inf], [-1.0, -2.0]])
    q = np.array([[1.0, 0.0], [0.5, 0.5]])
    parts = elbo.decompose(log_joint, q)
    assert np.isfinite(parts.elbo) and parts.kl >= 0
    assert elbo.kl_gap(log_joint, np.array([[0.5, 0.5], [0.5, 0.5]])) == np.inf


@pytest.mark.parametrize(
    "log_joint, q, match",
    [
        (np.zeros((2, 2)), np.array([[0.5, 0.6], [0.5, 0.5]]), "sum to 1"),
        (np.zeros((2, 2)), np.array([[1.5, -0.5], [0.5, 0.5]]), "non-negative"),
        (np.zeros((2, 3)), np.full((2, 2), 0.5), "shape"),
        (np.zeros(2), np.full(2, 0.5), "2-D"),
        (np.array([[np.nan, 0.0], [0.0, 0.0]]), np.full((2, 2), 0.5), "NaN"),
        (np.array([[-np.inf, -np.inf], [0.0, 0.0]]), np.full((2, 2), 0.5), "zero likelihood"),
    ],
)
def test_bad_input_raises(log_joint, q, match):
    with pytest.raises(ValueError, match=match):
        elbo.decompose(log_joint, q)
