"""Hidden Markov models: forward–backward against brute-force enumeration, the
mixture-model reduction, monotone Baum–Welch, zero probabilities, input checks."""

import itertools
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp

from oracles import regularised_bound

from emtutor import CategoricalHMM, ConvergenceWarning, GaussianHMM, GaussianMixture, gmm, hmm, hmm_core

METHODS = ["chunked", "scaled", "log"]


def random_categorical(rng, k, m, zeros=False):
    transmat = rng.dirichlet(np.ones(k), size=k)
    emissionprob = rng.dirichlet(np.ones(m), size=k)
    if zeros and k > 1:
        transmat[0, 1] = 0.0  # a forbidden transition
        transmat /= transmat.sum(axis=1, keepdims=True)
        emissionprob[-1, 0] = 0.0  # a forbidden emission
        emissionprob /= emissionprob.sum(axis=1, keepdims=True)
    return hmm.CategoricalHMMParams(rng.dirichlet(np.ones(k)), transmat, emissionprob)


def random_gaussian(rng, k, d, covariance_type):
    means = 2.0 * rng.standard_normal((k, d))
    if covariance_type == "diag":
        covariances = rng.uniform(0.3, 2.0, size=(k, d))
    else:
        a = rng.standard_normal((k, d, d))
        covariances = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(d)
    return hmm.GaussianHMMParams(rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k), means, covariances)


# ------------------------------------------------------------------ oracle


def brute_force(frame, startprob, transmat):
    """Enumerate every state path: log-likelihood, gamma, xi_sum, best path."""
    n_samples, k = frame.shape
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(startprob), np.log(transmat)
    paths = np.array(list(itertools.product(range(k), repeat=n_samples)))
    log_joint = np.array(
        [
            log_start[z[0]] + log_trans[z[:-1], z[1:]].sum() + frame[np.arange(n_samples), z].sum()
            for z in paths
        ]
    )
    ll = logsumexp(log_joint)
    post = np.exp(log_joint - ll)
    gamma = np.zeros((n_samples, k))
    xi_sum = np.zeros((k, k))
    for z, p in zip(paths, post):
        gamma[np.arange(n_samples), z] += p
        for t in range(n_samples - 1):
            xi_sum[z[t], z[t + 1]] += p
    best = int(np.argmax(log_joint))
    return ll, gamma, xi_sum, paths[best], log_joint[best], np.sort(log_joint)[::-1]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(6))
def test_forward_backward_matches_enumeration_categorical(method, seed):
    rng = np.random.default_rng(seed)
    for k in (1, 2, 3):
        for n_samples in (1, 2, 5):
            params = random_categorical(rng, k, 4, zeros=seed % 2 == 1)
            x, _ = hmm.sample(params, n_samples, rng)
            frame = hmm.frame_log_likelihood(x, params)
            ll, gamma, xi_sum, best, best_lp, _ = brute_force(frame, params.startprob, params.transmat)
            g, xi, ll_fb = hmm_core.forward_backward(frame, params.startprob, params.transmat, method)
            assert ll_fb == pytest.approx(ll, abs=1e-12)
            np.testing.assert_allclose(g, gamma, atol=1e-12, rtol=0)
            np.testing.assert_allclose(xi, xi_sum, atol=1e-12, rtol=0)
            lp, path = hmm_core.viterbi(frame, params.startprob, params.transmat)
            assert lp == pytest.approx(best_lp, abs=1e-12)
            # the path found attains the maximum (several paths may tie)
            with np.errstate(divide="ignore"):
                own = (np.log(params.startprob[path[0]]) + np.log(params.transmat[path[:-1], path[1:]]).sum()
                       + frame[np.arange(n_samples), path].sum())
            assert own == pytest.approx(best_lp, abs=1e-12)


def random_sparse_transmat(rng, k):
    """A transition matrix with zeros; every other draw has a state that no state can enter."""
    transmat = rng.dirichlet(np.ones(k), size=k)
    transmat[rng.random((k, k)) < 0.4] = 0.0
    if rng.random() < 0.5:
        transmat[:, 0] = 0.0  # state 0 can only be the first state
    for row in transmat:
        if row.sum() == 0:
            row[rng.integers(1, k)] = 1.0
    return transmat / transmat.sum(axis=1, keepdims=True)


def test_all_methods_match_enumeration_when_the_transition_matrix_has_zeros():
    # The chunked backward pass padded its last chunk with steps that still
    # apply transmat.T; with a state no state can enter (a zero column of
    # transmat) a padding step gave 0/0 and method="chunked" (the default)
    # raised "probability zero" where "scaled" and "log" give the likelihood.
    checked = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        k = int(rng.integers(2, 5))
        n_samples = int(rng.integers(2, 8 if k < 4 else 6))
        params = random_categorical(rng, k, 3)._replace(transmat=random_sparse_transmat(rng, k))
        if np.all(params.transmat[:, 0] == 0) and rng.random() < 0.7:
            # state 0 starts every sequence and alone emits symbol 0
            emissionprob = params.emissionprob.copy()
            emissionprob[0], emissionprob[1:, 0] = [1.0, 0.0, 0.0], 0.0
            emissionprob[1:] /= emissionprob[1:].sum(axis=1, keepdims=True)
            params = params._replace(startprob=np.eye(k)[0], emissionprob=emissionprob)
        x, _ = hmm.sample(params, n_samples, rng)
        frame = hmm.frame_log_likelihood(x, params)
        ll, gamma, xi_sum, *_ = brute_force(frame, params.startprob, params.transmat)
        for method in METHODS:
            g, xi, ll_fb = hmm_core.forward_backward(frame, params.startprob, params.transmat, method)
            assert ll_fb == pytest.approx(ll, abs=1e-12), (seed, method)
            np.testing.assert_allclose(g, gamma, atol=1e-12, rtol=0)
            np.testing.assert_allclose(xi, xi_sum, atol=1e-12, rtol=0)
        checked += bool(np.all(params.transmat[:, 0] == 0))
    assert checked >= 10  # the zero-column case was exercised


def test_chunked_gives_the_likelihood_where_a_state_cannot_be_entered():
    # Parameters Baum-Welch reached on a 9-symbol sequence (the kind
    # of case): state 0 is only a start state.  Oracle: enumeration of all 4^9 paths.
    x = np.array([3, 0, 1, 0, 1, 0, 1, 1, 1])
    params = hmm.CategoricalHMMParams(
        np.array([1.0, 0.0, 0.0, 0.0]),
        np.array([[0.0, 0.982, 0.018, 0.0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 1, 0]]),
        np.array([[0, 0, 0, 1.0], [1, 0, 0, 0], [0.669, 0.331, 0, 0], [0, 1, 0, 0]]),
    )
    frame = hmm.frame_log_likelihood(x, params)
    ll = brute_force(frame, params.startprob, params.transmat)[0]
    assert np.isfinite(ll)
    for method in METHODS:
        assert hmm_core.forward_backward(frame, params.startprob, params.transmat, method)[2] == pytest.approx(ll, abs=1e-12)
    assert hmm.log_likelihood(x, params) == pytest.approx(ll, abs=1e-12)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full"])
def test_a_collapsing_state_without_reg_covar_says_so(covariance_type):
    # Three identical rows: without reg_covar a state's variance shrinks onto
    # them.  The diagonal fit used to end in a false LikelihoodDecreaseError
    # (or "observation 0 has probability zero"), and the mixture's message
    # named a "component" by its index among the states with counts.
    outcomes = {"converged": 0, "collapsed": 0}
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n, d, k = int(rng.integers(10, 60)), int(rng.integers(1, 3)), int(rng.integers(2, 4))
        X = rng.standard_normal((n, d)) * rng.choice([1, 1e3]) + rng.choice([0, 1e4])
        X[:3] = X[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                hmm.fit_gaussian(X, k, covariance_type=covariance_type, reg_covar=0.0, random_state=seed,
                                 max_iter=300)
                outcomes["converged"] += 1
            except ValueError as error:
                assert re.search(r"of state \d+ .*the state has collapsed.*increase reg_covar", str(error)), error
                outcomes["collapsed"] += 1
    assert outcomes["collapsed"] >= 3


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
@pytest.mark.parametrize("seed", range(4))
def test_forward_backward_and_viterbi_match_enumeration_gaussian(covariance_type, seed):
    rng = np.random.default_rng(100 + seed)
    for k in (2, 3):
        params = random_gaussian(rng, k, 2, covariance_type)
        x, _ = hmm.sample(params, 5, rng, covariance_type=covariance_type)
        frame = hmm.frame_log_likelihood(x, params, covariance_type=covariance_type)
        ll, gamma, xi_sum, best, best_lp, ranked = brute_force(frame, params.startprob, params.transmat)
        for method in METHODS:
            g, xi, ll_fb = hmm_core.forward_backward(frame, params.startprob, params.transmat, method)
            assert ll_fb == pytest.approx(ll, abs=1e-12)
            np.testing.assert_allclose(g, gamma, atol=1e-12, rtol=0)
            np.testing.assert_allclose(xi, xi_sum, atol=1e-12, rtol=0)
        lp, path = hmm_core.viterbi(frame, params.startprob, params.transmat)
        assert ranked[0] - ranked[1] > 1e-9  # continuous data: the best path is unique
        np.testing.assert_array_equal(path, best)
        assert lp == pytest.approx(best_lp, abs=1e-12)


def test_package_log_likelihood_and_decoders_over_several_sequences():
    rng = np.random.default_rng(7)
    params = random_gaussian(rng, 3, 2, "full")
    full = {"covariance_type": "full"}
    seqs = [hmm.sample(params, n, rng, **full)[0] for n in (4, 1, 5)]
    total, paths, gammas = 0.0, [], []
    for x in seqs:
        frame = hmm.frame_log_likelihood(x, params, **full)
        ll, gamma, _, best, _, _ = brute_force(frame, params.startprob, params.transmat)
        total += ll
        paths.append(best)
        gammas.append(gamma)
    assert hmm.log_likelihood(seqs, params, **full) == pytest.approx(total, abs=1e-12)
    X, lengths = np.concatenate(seqs), [4, 1, 5]
    assert hmm.log_likelihood(X, params, lengths, **full) == pytest.approx(total, abs=1e-12)
    np.testing.assert_array_equal(hmm.viterbi(X, params, lengths, **full)[1], np.concatenate(paths))
    np.testing.assert_array_equal(
        hmm.posterior_decode(seqs, params, **full), np.argmax(np.concatenate(gammas), axis=1)
    )


# ---------------------------------------------------------------- reduction


def test_identical_transition_rows_reduce_to_a_gaussian_mixture():
    rng = np.random.default_rng(11)
    weights = np.array([0.5, 0.3, 0.2])
    p = random_gaussian(rng, 3, 2, "full")
    params = p._replace(startprob=weights, transmat=np.tile(weights, (3, 1)))
    X, _ = hmm.sample(params, 400, rng, covariance_type="full")
    mixture = gmm.GMMParams(weights, params.means, params.covariances)
    resp, log_norm = gmm.e_step(X, mixture)
    data = hmm.as_sequences(X, kind="gaussian")
    for method in METHODS:
        stats, lls = hmm.e_step(data, params, covariance_type="full", method=method)
        assert lls.sum() == pytest.approx(gmm.log_likelihood(X, mixture), rel=1e-12)
        np.testing.assert_allclose(stats.resp, resp, atol=1e-12)
        # pairs are independent too: xi_t = outer(resp_t, resp_{t+1})
        np.testing.assert_allclose(stats.xi_sum, resp[:-1].T @ resp[1:], atol=1e-10)


def test_identical_transition_rows_reduce_to_a_categorical_mixture():
    rng = np.random.default_rng(12)
    weights = np.array([0.6, 0.4])
    params = hmm.CategoricalHMMParams(weights, np.tile(weights, (2, 1)), rng.dirichlet(np.ones(5), size=2))
    x, _ = hmm.sample(params, 300, rng)
    joint = weights * params.emissionprob[:, x].T  # p(x_n, z_n = k) of the mixture
    resp = joint / joint.sum(axis=1, keepdims=True)
    assert hmm.log_likelihood(x, params) == pytest.approx(np.log(joint.sum(axis=1)).sum(), rel=1e-12)
    stats, _ = hmm.e_step(hmm.as_sequences(x, kind="categorical"), params)
    np.testing.assert_allclose(stats.resp, resp, atol=1e-12)


# ------------------------------------------- the implementations agree


problems = st.tuples(
    st.integers(0, 10**6),  # seed
    st.integers(1, 4),  # K
    st.integers(1, 200),  # T
    st.sampled_from(["categorical", "diag", "full"]),
    st.sampled_from([0.0, 0.9, 0.999]),  # extra self-transition weight
)


def make_problem(seed, k, n_samples, kind, sticky):
    rng = np.random.default_rng(seed)
    if kind == "categorical":
        params = random_categorical(rng, k, 3, zeros=seed % 3 == 0)
    else:
        params = random_gaussian(rng, k, 2, kind)
    transmat = (1 - sticky) * params.transmat + sticky * np.eye(k)
    params = params._replace(transmat=transmat)
    x, _ = hmm.sample(params, n_samples, rng, covariance_type="diag" if kind == "categorical" else kind)
    if kind != "categorical" and n_samples > 3:
        x[n_samples // 2] += 40.0  # an outlier far from every state
    return params, x


@given(problems, st.integers(1, 30))
def test_chunked_scaled_and_log_space_agree(problem, chunk):
    params, x = make_problem(*problem)
    frame = hmm.frame_log_likelihood(x, params, covariance_type="full" if problem[3] == "full" else "diag")
    ref = hmm_core.forward_backward(frame, params.startprob, params.transmat, "scaled")
    oracle = hmm_core.forward_backward(frame, params.startprob, params.transmat, "log")
    fast = hmm_core.forward_backward(frame, params.startprob, params.transmat, "chunked")
    for other in (oracle, fast):
        assert other[2] == pytest.approx(ref[2], rel=1e-11, abs=1e-11)
        np.testing.assert_allclose(other[0], ref[0], atol=1e-9)
        np.testing.assert_allclose(other[1], ref[1], atol=1e-8 * max(1, len(x)))
    # the chunked passes with any chunk size equal the step-by-step ones
    resp, xi_sum, lls = hmm_core.forward_backward_sequences(frame, [len(x)], params.startprob, params.transmat,
                                                            chunk_size=chunk)
    assert lls[0] == pytest.approx(ref[2], rel=1e-11, abs=1e-11)
    np.testing.assert_allclose(resp, ref[0], atol=1e-10)
    np.testing.assert_allclose(xi_sum, ref[1], atol=1e-10 * max(1, len(x)))


@given(problems, st.lists(st.integers(1, 60), min_size=1, max_size=8), st.integers(1, 30))
def test_many_sequences_at_once_equal_each_sequence_step_by_step(problem, cuts, chunk):
    """forward_backward_sequences on sequences of mixed lengths (chunks padded
    at each sequence's end, sequences restarting from startprob) against the
    reference recursions run on every sequence alone."""
    params, x = make_problem(*problem)
    lengths = np.array(cuts)
    x = np.concatenate([x] * (-(-lengths.sum() // len(x))))[: lengths.sum()]
    frame = hmm.frame_log_likelihood(x, params, covariance_type="full" if problem[3] == "full" else "diag")
    resp, xi_sum, lls = hmm_core.forward_backward_sequences(frame, lengths, params.startprob, params.transmat,
                                                            chunk_size=chunk)
    begin, xi_ref = 0, 0.0
    for n, ll in zip(lengths, lls):
        ref = hmm_core.forward_backward(frame[begin : begin + n], params.startprob, params.transmat, "scaled")
        assert ll == pytest.approx(ref[2], rel=1e-11, abs=1e-11)
        np.testing.assert_allclose(resp[begin : begin + n], ref[0], atol=1e-10)
        xi_ref = xi_ref + ref[1]
        begin += n
    np.testing.assert_allclose(xi_sum, xi_ref, atol=1e-10 * max(1, len(x)))


def test_scaled_alpha_beta_are_log_space_alpha_beta_rescaled():
    rng = np.random.default_rng(3)
    params = random_gaussian(rng, 3, 2, "diag")
    x, _ = hmm.sample(params, 50, rng)
    frame = hmm.frame_log_likelihood(x, params)
    alpha, log_scale = hmm_core.forward(frame, params.startprob, params.transmat)
    beta = hmm_core.backward(frame, params.transmat, log_scale)
    log_alpha = hmm_core.forward_log(frame, params.startprob, params.transmat)
    log_beta = hmm_core.backward_log(frame, params.transmat)
    cumulative = np.cumsum(log_scale)
    np.testing.assert_allclose(np.log(alpha) + cumulative[:, None], log_alpha, rtol=1e-12)
    future = cumulative[-1] - cumulative
    np.testing.assert_allclose(np.log(beta) + future[:, None], log_beta, atol=1e-10)


def test_long_sequence_does_not_underflow():
    rng = np.random.default_rng(5)
    params = random_categorical(rng, 3, 4)
    x, _ = hmm.sample(params, 3_000, rng)
    frame = hmm.frame_log_likelihood(x, params)
    naive = np.prod(np.exp(frame[:, 0]))  # what an unscaled recursion would multiply
    assert naive == 0.0
    lls = [hmm_core.forward_backward(frame, params.startprob, params.transmat, m)[2] for m in METHODS]
    assert np.isfinite(lls).all()
    np.testing.assert_allclose(lls, lls[1], rtol=1e-11)


# ------------------------------------------------------------ Baum–Welch


def check_monotone(result):
    lls = np.r_[result.initial_objective, result.objectives]
    assert np.all(np.diff(lls) >= -1e-10 * np.abs(lls[:-1]).clip(1))


@given(problems)
def test_baum_welch_never_decreases_the_log_likelihood(problem):
    """Categorical: the theorem.  Gaussian with reg_covar > 0: never below the
    bound (gmm-reg-bound) of the regularised M-step, as for mixtures."""
    seed, k, n_samples, kind, _ = problem
    params, x = make_problem(seed, k, max(n_samples, 2 * k + 2), kind, 0.5)
    data = [x[: len(x) // 2], x[len(x) // 2 :]] if kind == "categorical" else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "categorical":
            result = hmm.fit_categorical(
                data, k, n_symbols=3, max_iter=15, tol=0.0,
                random_state=seed, record=True,
            )
        else:
            result = hmm.fit_gaussian(
                x, k, covariance_type=kind, reg_covar=1e-3, max_iter=15, tol=0.0, random_state=seed,
                record=True,
            )
    if kind == "categorical":
        check_monotone(result)
    else:
        changes = np.diff(np.r_[result.initial_objective, result.objectives])
        bounds = regularised_bound(result.history, 1e-3, kind, lambda stats: stats.resp)
        assert np.all(changes >= bounds - 1e-9 * np.abs(result.objectives).clip(1))
    # the recorded values are the log-likelihoods of the recorded parameters
    p = result.history.params[result.n_iter]
    settings = {} if kind == "categorical" else {"covariance_type": kind}
    assert result.objectives[-1] == pytest.approx(hmm.log_likelihood(data, p, **settings), rel=1e-10)
    assert result.objective_name == "log-likelihood"
    for name in ("startprob", "transmat"):
        value = getattr(result, name)
        np.testing.assert_allclose(np.sum(value, axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_regularised_m_step_is_the_maximiser_of_q_minus_the_penalty(covariance_type):
    """Sigma_k = S_k / N_k + eps I maximises Q - (eps / 2) sum_k N_k tr(inv Sigma_k),
    the fact behind (gmm-reg-bound), for the HMM's emission M-step too."""
    rng = np.random.default_rng(21)
    params = random_gaussian(rng, 2, 2, "full")
    X, _ = hmm.sample(params, 200, rng, covariance_type="full")
    data = hmm.as_sequences(X, kind="gaussian")
    start = params._replace(covariances=gmm.COVARIANCE_TYPES[covariance_type].from_full(np.eye(2), 2))
    reg = 0.5
    stats, _ = hmm.e_step(data, start, covariance_type=covariance_type)
    new = hmm.m_step(data, stats, start, reg_covar=reg, covariance_type=covariance_type)
    counts = stats.resp.sum(axis=0)

    def objective(covariances):  # emission terms of Q minus the penalty
        full = gmm.full_covariances(covariances, 2, 2, covariance_type)
        frame = gmm.log_gaussian_density(X, new.means, full)
        return np.sum(stats.resp * frame) - 0.5 * reg * counts @ np.trace(np.linalg.inv(full), axis1=1, axis2=2)

    best = objective(new.covariances)
    for _ in range(20):
        step = 0.05 * rng.standard_normal(np.shape(new.covariances))
        if covariance_type in ("full", "tied"):
            step = step + np.swapaxes(step, -1, -2)
        perturbed = new.covariances + step
        full = gmm.full_covariances(perturbed, 2, 2, covariance_type)
        if np.all(np.linalg.eigvalsh(full) > 0):
            assert objective(perturbed) < best


def test_one_state_hmm_and_one_component_mixture_have_the_same_covariance():
    """reg_covar means the same for both: Sigma = S / N + reg_covar I."""
    rng = np.random.default_rng(30)
    X = rng.normal(size=(10, 1)) * 0.6 + 2.0
    for reg_covar in (0.0, 1.0):
        for covariance_type in ("full", "diag", "spherical", "tied"):
            mixture = GaussianMixture(1, covariance_type=covariance_type, reg_covar=reg_covar).fit(X)
            chain = GaussianHMM(1, covariance_type=covariance_type, reg_covar=reg_covar).fit(X)
            np.testing.assert_allclose(chain.covariances_, mixture.covariances_, rtol=1e-12)
            np.testing.assert_allclose(chain.means_, mixture.means_, rtol=1e-12)
            variance = X.var() + reg_covar  # the closed form
            np.testing.assert_allclose(gmm.full_covariances(chain.covariances_, 1, 1, covariance_type),
                                       [[[variance]]], rtol=1e-12)


def test_zero_probabilities_stay_zero_and_rows_stay_distributions():
    rng = np.random.default_rng(8)
    true = hmm.CategoricalHMMParams(
        np.array([1.0, 0.0, 0.0]),
        np.array([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.3, 0.0, 0.7]]),
        np.array([[0.7, 0.3, 0.0, 0.0], [0.0, 0.2, 0.8, 0.0], [0.1, 0.1, 0.1, 0.7]]),
    )
    X, _ = hmm.sample(true, 600, rng)
    init = hmm.CategoricalHMMParams(
        np.array([0.5, 0.5, 0.0]),
        np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]),
        np.array([[0.4, 0.4, 0.2, 0.0], [0.0, 0.3, 0.4, 0.3], [0.25, 0.25, 0.25, 0.25]]),
    )
    result = hmm.fit_categorical(X, 3, startprob=init.startprob, transmat=init.transmat,
                                 emissionprob=init.emissionprob, max_iter=300, tol=1e-8)
    for name in ("startprob", "transmat", "emissionprob"):
        value, start = getattr(result, name), getattr(init, name)
        assert np.all(value[start == 0] == 0), name
        np.testing.assert_allclose(np.sum(value, axis=-1), 1.0, rtol=1e-12)
    assert result.converged
    np.testing.assert_allclose(result.transmat, true.transmat, atol=0.08)


def test_unvisited_state_keeps_its_parameters():
    # state 2 can never be reached: its rows have no expected counts
    params = hmm.CategoricalHMMParams(
        np.array([0.5, 0.5, 0.0]),
        np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]),
        np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]),
    )
    x, _ = hmm.sample(params, 100, 0)
    data = hmm.as_sequences(x, kind="categorical", n_symbols=2)
    stats, _ = hmm.e_step(data, params)
    new = hmm.m_step(data, stats, params)
    np.testing.assert_array_equal(new.transmat[2], params.transmat[2])
    np.testing.assert_array_equal(new.emissionprob[2], params.emissionprob[2])
    assert np.all(np.isfinite(new.transmat)) and new.startprob[2] == 0


@pytest.mark.parametrize("learn", ["s", "t", "e", "st", "te", ""])
def test_learn_keeps_the_other_parameters_fixed(learn):
    rng = np.random.default_rng(9)
    params = random_categorical(rng, 2, 3)
    x, _ = hmm.sample(params, 200, rng)
    init = random_categorical(rng, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = hmm.fit_categorical(x, 2, startprob=init.startprob, transmat=init.transmat,
                                     emissionprob=init.emissionprob, learn=learn, max_iter=5)
    for letter, name in zip("ste", ("startprob", "transmat", "emissionprob")):
        same = np.array_equal(getattr(result, name), getattr(init, name))
        assert same == (letter not in learn), name
    check_monotone(result)


def test_gaussian_learn_keeps_means_or_covariances_fixed():
    rng = np.random.default_rng(10)
    params = random_gaussian(rng, 2, 2, "diag")
    X, _ = hmm.sample(params, 300, rng)
    fixed = dict(means=params.means, covariances=params.covariances, reg_covar=0.0, max_iter=200)
    r1 = hmm.fit_gaussian(X, 2, learn="stc", **fixed)
    np.testing.assert_array_equal(r1.means, params.means)
    r2 = hmm.fit_gaussian(X, 2, learn="stm", **fixed)
    np.testing.assert_array_equal(r2.covariances, params.covariances)
    check_monotone(r1)
    check_monotone(r2)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_covariances_with_fixed_means_are_the_scatter_about_those_means(covariance_type):
    rng = np.random.default_rng(15)
    params = random_gaussian(rng, 3, 2, "full")
    X, _ = hmm.sample(params, 200, rng, covariance_type="full")
    start = params._replace(covariances=gmm.COVARIANCE_TYPES[covariance_type].from_full(np.eye(2), 3),
                            means=params.means + 0.3)  # not the weighted means of any step
    data = hmm.as_sequences(X, kind="gaussian")
    stats, _ = hmm.e_step(data, start, covariance_type=covariance_type)
    new = hmm.m_step(data, stats, start, learn="c", reg_covar=0.1, covariance_type=covariance_type)
    np.testing.assert_array_equal(new.means, start.means)
    scatter = np.stack([(stats.resp[:, k, None] * (X - start.means[k])).T @ (X - start.means[k])
                        for k in range(3)])  # S_k about the fixed means, directly
    counts = stats.resp.sum(axis=0)
    full = scatter / counts[:, None, None]
    expected = {
        "full": full + 0.1 * np.eye(2),
        "diag": np.diagonal(full, axis1=1, axis2=2) + 0.1,
        "spherical": np.trace(full, axis1=1, axis2=2) / 2 + 0.1,
        "tied": scatter.sum(axis=0) / len(X) + 0.1 * np.eye(2),
    }[covariance_type]
    np.testing.assert_allclose(new.covariances, expected, rtol=1e-10)


def test_one_sequence_list_and_lengths_give_the_same_fit():
    rng = np.random.default_rng(13)
    params = random_gaussian(rng, 2, 1, "full")
    seqs = [hmm.sample(params, n, rng, covariance_type="full")[0] for n in (50, 80, 30)]
    a = hmm.fit_gaussian(seqs, 2, covariance_type="full", random_state=1)
    b = hmm.fit_gaussian(np.concatenate(seqs), 2, [50, 80, 30], covariance_type="full", random_state=1)
    assert a.n_iter == b.n_iter
    np.testing.assert_allclose(a.means, b.means, rtol=1e-12)
    # treating them as one long sequence is a different model
    c = hmm.fit_gaussian(np.concatenate(seqs), 2, covariance_type="full", random_state=1)
    assert c.objective != pytest.approx(a.objective, rel=1e-9)


def test_baum_welch_recovers_the_casino():
    true = hmm.CategoricalHMMParams(
        np.array([0.5, 0.5]),
        np.array([[0.95, 0.05], [0.10, 0.90]]),
        np.array([[1 / 6] * 6, [0.1] * 5 + [0.5]]),
    )
    rolls, _ = hmm.sample(true, 10_000, 2)
    guess = dict(transmat_init=[[0.8, 0.2], [0.2, 0.8]], emissionprob_init=[[1 / 6] * 6, [0.15] * 5 + [0.25]])
    model = CategoricalHMM(2, n_symbols=6, tol=1e-7, max_iter=1000, **guess).fit(rolls)
    loaded = int(np.argmax(model.emissionprob_[:, 5]))
    order = [1 - loaded, loaded]
    np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], true.transmat, atol=0.03)
    np.testing.assert_allclose(model.emissionprob_[order], true.emissionprob, atol=0.03)


# ------------------------------------------------------------ estimators


def test_estimators_api():
    rng = np.random.default_rng(14)
    params = random_gaussian(rng, 2, 2, "full")
    X, states = hmm.sample(params, 500, rng, covariance_type="full")
    model = GaussianHMM(2, covariance_type="full", random_state=0, record=True).fit(X)
    assert model.means_.shape == (2, 2) and model.covariances_.shape == (2, 2, 2)
    assert model.converged_ and model.n_iter_ == len(model.objectives_)
    assert len(model.history_.params) == model.n_iter_ + 1
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    log_prob, path = model.decode(X)
    np.testing.assert_array_equal(model.predict(X), path)
    _, map_path = model.decode(X, algorithm="map")
    np.testing.assert_array_equal(map_path, np.argmax(proba, axis=1))
    assert log_prob < model.score(X)  # one path is less probable than all of them
    # the recorded objective is the log-likelihood, which score returns (hmmlearn's total)
    assert model.objectives_[-1] == model.objective_ == pytest.approx(model.score(X), rel=1e-12)
    Xs, zs = model.sample(10, random_state=1)
    assert Xs.shape == (10, 2) and zs.shape == (10,)
    # the estimator's random_state is used afresh: two calls draw the same
    np.testing.assert_array_equal(model.sample(10)[0], model.sample(10)[0])
    assert not np.array_equal(model.sample(10)[0], Xs)
    again = GaussianHMM(2, covariance_type="full", random_state=0).fit(X)
    np.testing.assert_array_equal(again.means_, model.means_)
    cat = CategoricalHMM(2, random_state=0).fit([[0, 1, 1, 2], [2, 2, 0]])
    assert cat.emissionprob_.shape == (2, 3) and cat.predict([0, 1, 2]).shape == (3,)
    with pytest.raises(ValueError, match="not fitted"):
        CategoricalHMM(2).predict([0, 1])


def test_sample_frequencies_match_the_parameters():
    params = hmm.CategoricalHMMParams(
        np.array([1.0, 0.0]), np.array([[0.8, 0.2], [0.4, 0.6]]), np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    )
    x, z = hmm.sample(params, 50_000, 3)
    assert z[0] == 0
    counts = np.zeros((2, 2))
    np.add.at(counts, (z[:-1], z[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(axis=1, keepdims=True), params.transmat, atol=0.015)
    assert not np.any(x[z == 0] == 2)  # a zero emission probability is never drawn
    np.testing.assert_allclose(np.bincount(x[z == 1], minlength=3) / np.sum(z == 1),
                               params.emissionprob[1], atol=0.015)


# ------------------------------------------------------------ bad input


GOOD = hmm.CategoricalHMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                                np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]))


@pytest.mark.parametrize(
    "x, lengths, params, match",
    [
        ([0, 1, 3], None, GOOD, "X has symbol 3, outside 0..2"),
        ([0, -1, 2], None, GOOD, "X has symbol -1; symbols must be 0, 1"),
        ([0.0, 1.5, 2.0], None, GOOD, "integer symbols"),
        (["a", "b"], None, GOOD, "integer symbols"),
        ([], None, GOOD, "empty"),
        ([0, 1, 2], [2, 2], GOOD, "lengths sum to 4 but the data has 3"),
        ([0, 1, 2], [3, 0], GOOD, "lengths must be positive"),
        ([[0, 1], []], None, GOOD, "sequence 1 is empty"),
        ([0, 1], None, GOOD._replace(transmat=np.array([[0.9, 0.2], [0.2, 0.8]])), "row 0 sums to"),
        ([0, 1], None, GOOD._replace(transmat=np.array([[1.1, -0.1], [0.2, 0.8]])), "non-negative"),
        ([0, 1], None, GOOD._replace(startprob=np.array([0.7, 0.7])), "startprob must sum to 1"),
        ([0, 1], None, GOOD._replace(emissionprob=np.array([[0.5, 0.6, -0.1], [0.2, 0.3, 0.5]])), "emissionprob"),
        ([2, 2], None, GOOD._replace(startprob=np.array([1.0, 0.0]),
                                     transmat=np.eye(2)), "probability zero"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(x, lengths, params, match):
    with pytest.raises(ValueError, match=match):
        hmm.log_likelihood(x, params, lengths)


def test_bad_gaussian_input():
    params = random_gaussian(np.random.default_rng(0), 2, 2, "full")
    full = {"covariance_type": "full"}
    with pytest.raises(ValueError, match="NaN or inf"):
        hmm.log_likelihood(np.array([[0.0, np.nan]]), params, **full)
    with pytest.raises(ValueError, match="means must have shape"):
        hmm.log_likelihood(np.zeros((3, 3)), params, **full)
    with pytest.raises(ValueError, match="not positive definite"):
        hmm.log_likelihood(np.zeros((3, 2)), params._replace(covariances=-params.covariances), **full)
    with pytest.raises(ValueError, match=r"shape \(2, 2\) for covariance_type='diag', got \(2, 2, 2\)"):
        hmm.log_likelihood(np.zeros((3, 2)), params)  # the type is a setting, not read off the shape
    with pytest.raises(ValueError, match="covariance_type"):
        hmm.fit_gaussian(np.zeros((3, 2)), 2, covariance_type="banana")
    with pytest.raises(ValueError, match="learn"):
        hmm.fit_categorical([0, 1, 0], 2, learn="sx")
    with pytest.raises(ValueError, match="method"):
        hmm_core.forward_backward(np.zeros((2, 2)), np.array([0.5, 0.5]), np.eye(2), method="fast")


def test_chunked_filter_survives_nearly_deterministic_chains_and_separated_states():
    # each chunk's transfer matrix has rows differing by hundreds of orders of
    # magnitude; the stitching must combine them in log space, not as 0 / 0
    params = hmm.GaussianHMMParams(
        np.array([1.0, 0.0]),
        np.array([[1 - 1e-12, 1e-12], [1e-12, 1 - 1e-12]]),
        np.array([[-5.0], [5.0]]),
        np.array([[0.01], [0.01]]),
    )
    x = np.r_[np.full(150, -5.0), np.full(150, 5.0)][:, None] + 0.1 * np.random.default_rng(1).standard_normal((300, 1))
    frame = hmm.frame_log_likelihood(x, params)
    oracle = hmm_core.forward_backward(frame, params.startprob, params.transmat, "log")
    fast = hmm_core.forward_backward(frame, params.startprob, params.transmat, "chunked")
    assert fast[2] == pytest.approx(oracle[2], rel=1e-12)
    np.testing.assert_allclose(fast[0], oracle[0], atol=1e-12)
    np.testing.assert_allclose(fast[1], oracle[1], atol=1e-9)
    assert np.array_equal(np.argmax(fast[0], axis=1), np.r_[np.zeros(150), np.ones(150)])


def test_chunk_scan_combines_operators_whose_rows_differ_by_thousands_of_orders():
    # The scan combines chunk operators diag(e^scale) P (rows of P summing to
    # 1).  Its quick form weights right's rows relative to the largest; where
    # a product row only reaches rows thousands of orders of magnitude below
    # that (a chain that cannot switch states), it must redo the product in
    # log space: the row's true scale, not an empty row.
    rng = np.random.default_rng(0)
    left = rng.dirichlet(np.ones(3), size=(5, 3))
    left[:, 0] = [1.0, 0.0, 0.0]  # row 0 only reaches state 0
    right = rng.dirichlet(np.ones(3), size=(5, 3))
    left_scale = rng.normal(size=(5, 3))
    right_scale = np.array([-2000.0, 0.0, 3.0]) + rng.normal(size=(5, 3))
    product, scale = hmm_core._combine(left, left_scale, right, right_scale)
    # row 0 is right's row 0 with the two scales added; in rows 1 and 2 state 0's e^-2000 does not count
    np.testing.assert_allclose(product[:, 0], right[:, 0], rtol=1e-13)
    np.testing.assert_allclose(scale[:, 0], left_scale[:, 0] + right_scale[:, 0], rtol=1e-13)
    top = right_scale.max(axis=1, keepdims=True)
    rows = np.einsum("nij,nj,njk->nik", left[:, 1:], np.exp(right_scale - top), right)
    np.testing.assert_allclose(product[:, 1:], rows / rows.sum(axis=2, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(scale[:, 1:], left_scale[:, 1:] + top + np.log(rows.sum(axis=2)), rtol=1e-13)


@pytest.mark.parametrize("n_samples, chunk", [(40, None), (40, 40), (40, 7), (1000, None)])
def test_results_do_not_share_the_scratch_arrays_reused_by_the_next_call(n_samples, chunk):
    # forward_backward_sequences keeps its big work arrays between calls; what
    # it returns must stay as it was when the next call (another E-step) runs
    rng = np.random.default_rng(3)
    params = random_categorical(rng, 3, 4)
    x = hmm.sample(params, n_samples, rng)[0]
    frame = hmm.frame_log_likelihood(x, params)
    first = hmm_core.forward_backward_sequences(frame, [n_samples], params.startprob, params.transmat, chunk)
    kept = [np.copy(a) for a in first]
    other = hmm.frame_log_likelihood(np.roll(x, 1), params)
    hmm_core.forward_backward_sequences(other, [n_samples], params.startprob, params.transmat, chunk)
    hmm_core.forward_backward_sequences(other, [n_samples // 2, n_samples - n_samples // 2], params.startprob,
                                        params.transmat, chunk)
    for a, b in zip(first, kept):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(first[0], hmm_core.forward_backward(frame, params.startprob, params.transmat,
                                                                   "scaled")[0], atol=1e-12)
