"""Parity with hmmlearn (a test-only dependency): log-likelihood, posteriors,
Viterbi path and one Baum–Welch update, categorical and Gaussian emissions."""

import warnings

import numpy as np
import pytest
from hmmlearn import hmm as hl

from emtutor import hmm

LENGTHS = [120, 1, 75, 204]


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


def gaussian_problem(seed, covariance_type, reg):
    rng = np.random.default_rng(seed)
    k, d = 3, 2
    means = 2.0 * rng.standard_normal((k, d))
    if covariance_type == "diag":
        covariances = rng.uniform(0.3, 2.0, size=(k, d))
        prior = reg
    else:
        a = rng.standard_normal((k, d, d))
        covariances = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(d)
        prior = reg * np.eye(d)  # hmmlearn adds a scalar prior to every entry, not the diagonal
    params = hmm.GaussianHMMParams(rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k), means, covariances)
    X = np.concatenate([hmm.sample(params, n, rng)[0] for n in LENGTHS])
    model = hl.GaussianHMM(k, covariance_type=covariance_type, init_params="", params="stmc", n_iter=1,
                           covars_prior=prior, covars_weight=1.0 if covariance_type == "diag" else d)
    model.startprob_, model.transmat_ = params.startprob.copy(), params.transmat.copy()
    model.means_, model.covars_ = means.copy(), covariances.copy()
    return params, X, X, model


def problems():
    for seed in (0, 1):
        yield ("categorical", seed, 0.0, *categorical_problem(seed))
        for covariance_type in ("diag", "full"):
            for reg in (0.0, 0.01):
                yield (covariance_type, seed, reg, *gaussian_problem(seed, covariance_type, reg))


PROBLEMS = list(problems())
IDS = [f"{kind}-seed{seed}-reg{reg}" for kind, seed, reg, *_ in PROBLEMS]


@pytest.mark.parametrize("kind, seed, reg, params, X, obs, model", PROBLEMS, ids=IDS)
def test_log_likelihood_and_posteriors_match_hmmlearn(kind, seed, reg, params, X, obs, model):
    assert hmm.log_likelihood(X, params, LENGTHS) == pytest.approx(model.score(obs, LENGTHS), rel=1e-10)
    kind_ = "categorical" if kind == "categorical" else "gaussian"
    gamma = hmm.posteriors(hmm.as_sequences(X, LENGTHS, kind=kind_), params)[0]
    np.testing.assert_allclose(gamma, model.predict_proba(obs, LENGTHS), atol=1e-8)


@pytest.mark.parametrize("kind, seed, reg, params, X, obs, model", PROBLEMS, ids=IDS)
def test_viterbi_matches_hmmlearn(kind, seed, reg, params, X, obs, model):
    their_lp, their_path = model.decode(obs, LENGTHS, algorithm="viterbi")
    our_lp, our_path = hmm.viterbi(X, params, LENGTHS)
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
    kind_ = "categorical" if kind == "categorical" else "gaussian"
    data = hmm.as_sequences(X, LENGTHS, kind=kind_)
    stats, _ = hmm.e_step(data, params, reg_covar=reg)
    new = hmm.m_step(data, stats, reg_covar=reg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hmmlearn: one iteration has not converged
        model.fit(obs, LENGTHS)
    np.testing.assert_allclose(new.startprob, model.startprob_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(new.transmat, model.transmat_, rtol=1e-8, atol=1e-12)
    if kind == "categorical":
        np.testing.assert_allclose(new.emissionprob, model.emissionprob_, rtol=1e-8, atol=1e-12)
    else:
        np.testing.assert_allclose(new.means, model.means_, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(new.covariances, model.covars_ if kind == "full" else model._covars_,
                                   rtol=1e-8, atol=1e-12)
