"""Parity with hmmlearn (a test-only dependency): log-likelihood, posteriors,
Viterbi path and one Baum–Welch update, categorical emissions and Gaussian
emissions of every covariance type.

hmmlearn's M-step has no ``reg_covar``; emtutor's, like scikit-learn's
mixture, adds ``reg_covar`` to the diagonal of the maximum-likelihood
covariances, so with ``reg_covar = eps`` emtutor's covariances must be
hmmlearn's unregularised ones plus ``eps I``.
"""

import warnings

import numpy as np
import pytest
from hmmlearn import hmm as hl

from emtutor import gmm, hmm

LENGTHS = [120, 1, 75, 204]
TYPES = ["full", "diag", "spherical", "tied"]
RTOL, ATOL = 1e-8, 1e-12


def categorical_problem(seed):
    rng = np.random.default_rng(seed)
    k, m = 3, 5
    params = hmm.CategoricalHMMParams(
        rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k), rng.dirichlet(np.ones(m), size=k)
    )
    X = np.concatenate([hmm.sample(params, n, rng)[0] for n in LENGTHS])
    model = hl.CategoricalHMM(k, n_features=m, init_params="", params="ste", n_iter=1)
    model.startprob_, model.transmat_, model.emissionprob_ = (p.copy() for p in params)
    return params, X, X[:, None], model


def random_covariances(rng, k, d, covariance_type):
    if covariance_type == "full":
        a = rng.standard_normal((k, d, d))
        return a @ a.transpose(0, 2, 1) + 0.5 * np.eye(d)
    if covariance_type == "tied":
        a = rng.standard_normal((d, d))
        return a @ a.T + 0.5 * np.eye(d)
    if covariance_type == "diag":
        return rng.uniform(0.3, 2.0, size=(k, d))
    return rng.uniform(0.3, 2.0, size=k)


def gaussian_problem(seed, covariance_type):
    rng = np.random.default_rng(seed)
    k, d = 3, 2
    means = 2.0 * rng.standard_normal((k, d))
    covariances = random_covariances(rng, k, d, covariance_type)
    params = hmm.GaussianHMMParams(rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k), means, covariances)
    X = np.concatenate([hmm.sample(params, n, rng, covariance_type=covariance_type)[0] for n in LENGTHS])
    # covars_prior=0: hmmlearn's default prior (1e-2 added to every entry) off
    model = hl.GaussianHMM(k, covariance_type=covariance_type, init_params="", params="stmc", n_iter=1,
                           covars_prior=0.0)
    model.startprob_, model.transmat_ = params.startprob.copy(), params.transmat.copy()
    model.means_, model.covars_ = means.copy(), covariances.copy()
    return params, X, X, model


def problems():
    for seed in (0, 1):
        yield ("categorical", seed, 0.0, *categorical_problem(seed))
        for covariance_type in TYPES:
            for reg in (0.0, 0.01):
                yield (covariance_type, seed, reg, *gaussian_problem(seed, covariance_type))


PROBLEMS = list(problems())
IDS = [f"{kind}-seed{seed}-reg{reg}" for kind, seed, reg, *_ in PROBLEMS]


def settings(kind):
    return {} if kind == "categorical" else {"covariance_type": kind}


@pytest.mark.parametrize("kind, seed, reg, params, X, obs, model", PROBLEMS, ids=IDS)
def test_log_likelihood_and_posteriors_match_hmmlearn(kind, seed, reg, params, X, obs, model):
    assert hmm.log_likelihood(X, params, LENGTHS, **settings(kind)) == pytest.approx(
        model.score(obs, LENGTHS), rel=1e-10)
    data = hmm.as_sequences(X, LENGTHS, kind="categorical" if kind == "categorical" else "gaussian")
    resp = hmm.posteriors(data, params, **settings(kind))[0]
    np.testing.assert_allclose(resp, model.predict_proba(obs, LENGTHS), atol=1e-8)


@pytest.mark.parametrize("kind, seed, reg, params, X, obs, model", PROBLEMS, ids=IDS)
def test_viterbi_matches_hmmlearn(kind, seed, reg, params, X, obs, model):
    their_lp, their_path = model.decode(obs, LENGTHS, algorithm="viterbi")
    our_lp, our_path = hmm.viterbi(X, params, LENGTHS, **settings(kind))
    assert our_lp == pytest.approx(their_lp, rel=1e-10)
    if kind == "categorical":
        # discrete data can have several best paths with exactly the same
        # probability; both must attain it
        frame = hmm.frame_log_likelihood(X, params)
        lp = 0.0
        for z, f in zip(np.split(their_path, np.cumsum(LENGTHS)[:-1]), np.split(frame, np.cumsum(LENGTHS)[:-1])):
            lp += np.log(params.startprob[z[0]]) + np.log(params.transmat[z[:-1], z[1:]]).sum()
            lp += f[np.arange(len(z)), z].sum()
        assert lp == pytest.approx(our_lp, rel=1e-10)
    else:
        np.testing.assert_array_equal(our_path, their_path)


@pytest.mark.parametrize("kind, seed, reg, params, X, obs, model", PROBLEMS, ids=IDS)
def test_one_baum_welch_update_matches_hmmlearn(kind, seed, reg, params, X, obs, model):
    data = hmm.as_sequences(X, LENGTHS, kind="categorical" if kind == "categorical" else "gaussian")
    stats, _ = hmm.e_step(data, params, **settings(kind))
    new = hmm.m_step(data, stats, params, reg_covar=reg, **settings(kind))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hmmlearn: one iteration has not converged
        model.fit(obs, LENGTHS)
    np.testing.assert_allclose(new.startprob, model.startprob_, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(new.transmat, model.transmat_, rtol=RTOL, atol=ATOL)
    if kind == "categorical":
        np.testing.assert_allclose(new.emissionprob, model.emissionprob_, rtol=RTOL, atol=ATOL)
        return
    np.testing.assert_allclose(new.means, model.means_, rtol=RTOL, atol=ATOL)
    k, d = new.means.shape
    if kind == "spherical":
        # hmmlearn 0.3.3 leaves its spherical variances tiled to (k, d) after
        # an M-step (so its covars_ property mis-shapes them): read one column
        theirs = np.asarray(model._covars_).reshape(k, -1)[:, 0]
        np.testing.assert_allclose(new.covariances, theirs + reg, rtol=RTOL, atol=ATOL)
        return
    ours = gmm.full_covariances(new.covariances, k, d, kind)
    theirs = model.covars_ + reg * np.eye(d)  # hmmlearn's covars_: full matrices for every type
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)
