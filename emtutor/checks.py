"""Self-checks for the assignment notebooks: a student's function against emtutor's.

Each ``check_*`` function calls the student's function on several small
cases (an ordinary one, far-away points, one component, unequal weights,
a long sequence, ...) and compares the result with emtutor's reference
implementation.  It returns ``None`` quietly when everything agrees, and
otherwise raises :class:`AssertionError` with a message that names the
*most likely mistake*: the checker also computes what each common mistake
would produce (responsibilities not normalised, covariance divided by ``n``
instead of ``N_k``, transposed transition matrix, ...) and says which one
the student's output matches.  If none matches, the message says which
quantity differs on which case.  Messages never show the reference code or
its outputs.

The student's functions are called with positional arguments (so any
argument names work) and with copies of the inputs:

Assignment A1 (Gaussian mixtures):

- ``check_e_step``: ``e_step(X, weights, means, covariances) -> resp``
- ``check_m_step``: ``m_step(X, resp) -> (weights, means, covariances)``
- ``check_log_likelihood``: ``log_likelihood(X, weights, means, covariances) -> float``

Assignment A2 (HMM with categorical emissions; ``x`` holds symbols ``0..M-1``):

- ``check_forward``: ``forward(x, startprob, transmat, emissionprob) -> (alpha,
  log_likelihood)`` with ``alpha[t] = p(z_t | x_1..x_t)`` (rows sum to 1)
- ``check_posteriors``: ``posteriors(x, startprob, transmat, emissionprob) -> gamma``
- ``check_baum_welch_update``: ``baum_welch_update(x, startprob, transmat,
  emissionprob) -> (startprob, transmat, emissionprob)``

Assignment A3 (two coins):

- ``check_coins_e_step``: ``coins_e_step(heads, tosses, weights, thetas) -> resp``
- ``check_coins_m_step``: ``coins_m_step(heads, tosses, resp) -> thetas``

The references are :mod:`emtutor.gmm` (:eq:`gmm-e-step`,
:eq:`gmm-m-weights`, :eq:`gmm-m-means`, :eq:`gmm-m-covariances`),
:mod:`emtutor.hmm` / :mod:`emtutor.hmm_core` (:eq:`hmm-forward-scaled`,
:eq:`hmm-gamma`, :eq:`hmm-m-transmat`) and :mod:`emtutor.coins`
(:eq:`coins-e-step`, :eq:`coins-m-step`).
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from scipy.special import logsumexp, softmax, xlogy

from . import coins, gmm, hmm, hmm_core

__all__ = [
    "check_e_step",
    "check_m_step",
    "check_log_likelihood",
    "check_forward",
    "check_posteriors",
    "check_baum_welch_update",
    "check_coins_e_step",
    "check_coins_m_step",
]

_RTOL = 1e-5
_ATOL = 1e-8
_LOG_2PI = np.log(2.0 * np.pi)


# ------------------------------------------------------------------ machinery


def _call(fn: Callable, fn_name: str, case: str, *args):
    """Call the student's function on copies of ``args``; wrap its errors with the case."""
    args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    try:
        # NaN from 0/0 is diagnosed from the output; NumPy's warnings would only add noise
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of the student's code is reported
        raise AssertionError(
            f"{fn_name} raised {type(exc).__name__}: {exc}  (case: {case})"
        ) from exc


def _as_array(value, fn_name: str, what: str, case: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{fn_name} must return {what} as a NumPy array of numbers, got {type(value).__name__} "
            f"(case: {case})"
        ) from None


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=_RTOL, atol=_ATOL))


def _compare(fn_name, what, got, expected, case, variants=(), shape_help=""):
    """Pass if ``got`` matches ``expected``; else name the matching mistake or describe the gap.

    ``variants`` is a sequence of ``(hint, make)`` pairs; ``make()`` returns
    what that mistake would produce on this case (computed lazily).
    """
    got = _as_array(got, fn_name, what, case)
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        transposed = got.ndim == 2 and got.shape == expected.shape[::-1]
        raise AssertionError(
            f"{fn_name}: {what} has shape {got.shape}, expected {expected.shape}"
            f"{shape_help}{' (transposed?)' if transposed else ''}  (case: {case})"
        )
    if _close(got, expected):
        return
    for hint, make in variants:
        with np.errstate(all="ignore"):
            candidate = make()
        if candidate is not None and _close(got, candidate):
            raise AssertionError(f"{fn_name}: {what} is wrong. Likely mistake: {hint}  (case: {case})")
    if not np.all(np.isfinite(got)):
        raise AssertionError(
            f"{fn_name}: {what} contains NaN or inf on the case '{case}'; every entry must be finite"
        )
    gap = float(np.max(np.abs(got - expected)))
    raise AssertionError(
        f"{fn_name}: {what} differs from the expected value on the case '{case}' "
        f"(largest absolute difference {gap:.3g})"
    )


def _spd(rng, d, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.3 * np.eye(d))


# ------------------------------------------------------------- A1: mixtures


def _gmm_cases():
    """(name, X, weights, means, covariances) for the E-step and log-likelihood checks."""
    rng = np.random.default_rng(1)
    cases = []
    means = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]])
    covs = np.stack([_spd(rng, 2, s) for s in (0.5, 1.0, 2.0)])
    X = rng.normal(size=(40, 2)) * 1.5 + [0.0, 1.0]
    cases.append(("ordinary: 40 points, 3 components, equal weights", X, np.full(3, 1 / 3), means, covs))
    cases.append(("unequal weights", X, np.array([0.6, 0.3, 0.1]), means, covs))
    cases.append(("one component", X, np.array([1.0]), means[:1], covs[:1]))
    X1 = rng.normal(size=(25, 1)) * 2.0
    cases.append((
        "one feature, 2 components", X1, np.array([0.25, 0.75]),
        np.array([[-1.0], [1.5]]), np.array([[[0.5]], [[2.0]]]),
    ))
    far = np.vstack([X[:5], [[1000.0, -800.0], [-900.0, 1200.0], [700.0, 700.0]]])
    cases.append(("far-away points (1000 units from every mean)", far, np.array([0.5, 0.3, 0.2]), means, covs))
    return cases


def _gmm_parts(X, weights, means, covariances):
    log_dens = gmm.log_gaussian_density(X, means, covariances)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    return log_dens, log_weights


_LOG_SPACE_HINT = (
    "the densities are computed without log space: far from every component each density "
    "underflows to 0, and 0/0 gives NaN. Add log weights and log densities, and normalise "
    "with scipy.special.logsumexp"
)


def check_e_step(e_step: Callable) -> None:
    """Check a student's GMM E-step ``e_step(X, weights, means, covariances) -> resp``.

    The reference is :func:`emtutor.gmm.e_step` (:eq:`gmm-e-step`).
    ``resp`` must have shape ``(n_samples, n_components)``, rows summing to 1.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "e_step"
    for case, X, weights, means, covs in _gmm_cases():
        got = _call(e_step, name, case, X, weights, means, covs)
        expected, _ = gmm.e_step(X, gmm.GMMParams(weights, means, covs))
        log_dens, log_weights = _gmm_parts(X, weights, means, covs)
        got_arr = _as_array(got, name, "resp", case)
        if got_arr.shape == expected.shape and not np.all(np.isfinite(got_arr)) and case.startswith("far"):
            raise AssertionError(f"{name}: resp contains NaN or inf. Likely mistake: {_LOG_SPACE_HINT}  (case: {case})")
        if case.startswith("far") and got_arr.shape == expected.shape and np.any(got_arr.sum(axis=1) == 0):
            raise AssertionError(f"{name}: some rows of resp are all 0. Likely mistake: {_LOG_SPACE_HINT}  (case: {case})")
        logdet = np.linalg.slogdet(covs)[1]
        variants = [
            ("responsibilities not normalised across components: divide each row "
             "weights[k] * N(x_n | ...) by its sum over k", lambda: np.exp(log_weights + log_dens)),
            ("normalised over the points (axis 0) instead of over the components (axis 1)",
             lambda: softmax(log_weights + log_dens, axis=0)),
            ("forgot the mixing weights in the E-step: resp[n, k] is proportional to "
             "weights[k] * N(x_n | means[k], covariances[k])", lambda: softmax(log_dens, axis=1)),
            ("the Gaussian density lacks its normalising factor det(2 pi Sigma_k)^(-1/2), which "
             "differs between components", lambda: softmax(log_weights + log_dens + 0.5 * logdet, axis=1)),
            ("the Gaussian density uses the covariance where it needs its inverse (the "
             "Mahalanobis term is (x - mu)^T Sigma^{-1} (x - mu))",
             lambda: softmax(log_weights + _log_density_with(X, means, covs, inverse=False), axis=1)),
        ]
        _compare(name, "resp", got_arr, expected, case, variants,
                 " = (n_samples, n_components): one row per point")


def _log_density_with(X, means, covs, inverse):
    """Log Gaussian density with the covariance (not its inverse) in the quadratic form."""
    d = X.shape[1]
    out = np.empty((len(X), len(means)))
    for k, (m, c) in enumerate(zip(means, covs)):
        diff = X - m
        quad = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(c) if inverse else c, diff)
        out[:, k] = -0.5 * (d * _LOG_2PI + np.linalg.slogdet(c)[1] + quad)
    return out


def _m_step_cases():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(20, 2)) + [-2, 0], rng.normal(size=(25, 2)) * 0.7 + [2, 2]])
    resp = rng.dirichlet(np.ones(3), size=len(X))
    hard = np.eye(2)[np.r_[np.zeros(20, int), np.ones(25, int)]]
    skew = rng.dirichlet([8.0, 1.0, 0.5], size=len(X))
    X1 = rng.normal(size=(30, 1)) * 3.0
    resp1 = rng.dirichlet([1.0, 2.0], size=30)
    return [
        ("ordinary: 45 points, 3 components", X, resp),
        ("hard assignments (one-hot responsibilities)", X, hard),
        ("unequal component sizes", X, skew),
        ("one component", X, np.ones((len(X), 1))),
        ("one feature, 2 components", X1, resp1),
    ]


def _scatter(X, resp, centres, counts):
    return np.stack([
        (resp[:, k] * (X - centres[k]).T) @ (X - centres[k]) / counts[k] for k in range(resp.shape[1])
    ])


def check_m_step(m_step: Callable) -> None:
    """Check a student's GMM M-step ``m_step(X, resp) -> (weights, means, covariances)``.

    The reference is :func:`emtutor.gmm.m_step` without regularisation
    (:eq:`gmm-m-weights`, :eq:`gmm-m-means`, :eq:`gmm-m-covariances`).
    Shapes: ``(n_components,)``, ``(n_components, n_features)`` and
    ``(n_components, n_features, n_features)``.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "m_step"
    for case, X, resp in _m_step_cases():
        out = _call(m_step, name, case, X, resp)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise AssertionError(f"{name} must return a tuple (weights, means, covariances)  (case: {case})")
        weights, means, covs = out
        ref = gmm.m_step(X, resp)
        n = len(X)
        counts = resp.sum(axis=0)
        _compare(name, "weights", weights, ref.weights, case, [
            ("mixing weights not divided by n: weights[k] = N_k / n, which sum to 1", lambda: counts),
            ("mixing weights divided by n_components instead of n", lambda: counts / resp.shape[1]),
        ], " = (n_components,)")
        _compare(name, "means", means, ref.means, case, [
            ("means divided by n instead of N_k = sum_n resp[n, k]", lambda: resp.T @ X / n),
            ("means not weighted by the responsibilities", lambda: np.repeat(X.mean(0)[None], resp.shape[1], 0)),
        ], " = (n_components, n_features)")
        ref_means = ref.means
        _compare(name, "covariances", covs, ref.covariances, case, [
            ("covariance divided by n instead of N_k", lambda: ref.covariances * (counts / n)[:, None, None]),
            ("covariance divided by N_k - 1 (the unbiased formula does not apply here)",
             lambda: ref.covariances * (counts / (counts - 1))[:, None, None]),
            ("covariance not weighted by the responsibilities",
             lambda: _scatter(X, np.ones_like(resp), ref_means, counts)),
            ("covariance centred at the overall data mean instead of the new means[k]",
             lambda: _scatter(X, resp, np.repeat(X.mean(0)[None], resp.shape[1], 0), counts)),
            ("only the variances (the diagonal) were computed; the covariance is the weighted "
             "sum of outer products (x - mu_k)(x - mu_k)^T",
             lambda: ref.covariances * np.eye(X.shape[1])[None]),
        ], " = (n_components, n_features, n_features)")


def check_log_likelihood(log_likelihood: Callable) -> None:
    """Check a student's ``log_likelihood(X, weights, means, covariances) -> float``.

    The reference is :func:`emtutor.gmm.log_likelihood`
    (:eq:`gmm-log-likelihood`), the *sum* over points.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "log_likelihood"
    for case, X, weights, means, covs in _gmm_cases():
        got = _call(log_likelihood, name, case, X, weights, means, covs)
        got_arr = _as_array(got, name, "the log-likelihood", case)
        if got_arr.size != 1:
            raise AssertionError(
                f"{name} must return one number (the sum over points), got shape {got_arr.shape}  (case: {case})"
            )
        got_arr = got_arr.reshape(())
        expected = gmm.log_likelihood(X, gmm.GMMParams(weights, means, covs))
        if not np.isfinite(got_arr) and case.startswith("far"):
            raise AssertionError(f"{name}: the log-likelihood is not finite. Likely mistake: {_LOG_SPACE_HINT}  (case: {case})")
        log_dens, log_weights = _gmm_parts(X, weights, means, covs)
        _compare(name, "the log-likelihood", got_arr, expected, case, [
            ("forgot the mixing weights: p(x) = sum_k weights[k] N(x | means[k], covariances[k])",
             lambda: np.sum(logsumexp(log_dens, axis=1))),
            ("averaged over the points instead of summing", lambda: expected / len(X)),
            ("summed the log over the components; the log goes outside the sum over k",
             lambda: np.sum(log_weights + log_dens)),
            ("kept only the best component per point (max instead of a sum over k)",
             lambda: np.sum(np.max(log_weights + log_dens, axis=1))),
            ("returned the likelihood, not its logarithm", lambda: np.exp(expected)),
        ])


# ------------------------------------------------------------------ A2: HMMs

_CASINO = (
    np.array([0.5, 0.5]),
    np.array([[0.95, 0.05], [0.10, 0.90]]),
    np.array([[1 / 6] * 6, [1 / 10] * 5 + [1 / 2]]),
)


def _sample(startprob, transmat, emissionprob, n, rng):
    z = rng.choice(len(startprob), p=startprob)
    x = np.empty(n, dtype=np.intp)
    for t in range(n):
        if t:
            z = rng.choice(len(startprob), p=transmat[z])
        x[t] = rng.choice(emissionprob.shape[1], p=emissionprob[z])
    return x


def _hmm_cases(long=True, single=True):
    rng = np.random.default_rng(3)
    cases = [("casino, 60 rolls", _sample(*_CASINO, 60, rng), *_CASINO)]
    three = (
        np.array([0.6, 0.3, 0.1]),
        np.array([[0.7, 0.2, 0.1], [0.05, 0.8, 0.15], [0.3, 0.1, 0.6]]),
        np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.1, 0.2, 0.6], [0.25, 0.25, 0.4, 0.1]]),
    )
    cases.append(("3 states, 4 symbols, 40 steps", _sample(*three, 40, rng), *three))
    if single:
        cases.append(("a single observation", np.array([5]), *_CASINO))
    if long:
        cases.append(("casino, 1000 rolls (long sequence)", _sample(*_CASINO, 1000, rng), *_CASINO))
    return cases


def _frame(x, emissionprob):
    with np.errstate(divide="ignore"):
        return np.log(emissionprob).T[x]


def _fb(x, startprob, A_fwd, emissionprob, A_bwd=None, rescale=True):
    """Plain forward-backward used to compute *mistaken* variants (not the reference).

    Returns alpha (normalised rows if ``rescale``), log-likelihood, beta,
    gamma and the summed pair posteriors.
    """
    A_bwd = A_fwd if A_bwd is None else A_bwd
    lik = emissionprob.T[x]
    T, K = lik.shape
    alpha = np.empty((T, K))
    scale = np.ones(T)
    a = startprob * lik[0]
    for t in range(T):
        if t:
            a = (alpha[t - 1] @ A_fwd) * lik[t]
        if rescale:
            scale[t] = a.sum()
        alpha[t] = a / scale[t]
    loglik = np.sum(np.log(scale)) if rescale else np.log(alpha[-1].sum())
    beta = np.ones((T, K))
    for t in range(T - 2, -1, -1):
        beta[t] = A_bwd @ (lik[t + 1] * beta[t + 1]) / scale[t + 1]
    gamma = alpha * beta
    gamma = gamma / gamma.sum(axis=1, keepdims=True)
    xi = np.zeros((K, K))
    for t in range(T - 1):
        m = alpha[t][:, None] * A_fwd * (lik[t + 1] * beta[t + 1])[None]
        xi += m / m.sum()
    return alpha, loglik, beta, gamma, xi


_SCALE_HINT = (
    "the forward pass is not rescaled: alpha_t(k) = p(x_1..x_t, z_t = k) shrinks geometrically "
    "and underflows to 0 on long sequences. Divide each alpha_t by its sum c_t (so rows sum to 1) "
    "and get the log-likelihood as sum_t log c_t"
)


def check_forward(forward: Callable) -> None:
    """Check ``forward(x, startprob, transmat, emissionprob) -> (alpha, log_likelihood)``.

    ``alpha`` of shape ``(n_steps, n_states)`` holds the scaled forward
    variables ``p(z_t = k | x_1..x_t)`` (rows sum to 1) of
    :eq:`hmm-forward-scaled`; ``log_likelihood`` is ``log p(x_1..x_T)``.
    The reference is :func:`emtutor.hmm_core.forward`.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "forward"
    for case, x, startprob, transmat, emissionprob in _hmm_cases():
        out = _call(forward, name, case, x, startprob, transmat, emissionprob)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise AssertionError(f"{name} must return a tuple (alpha, log_likelihood)  (case: {case})")
        alpha, loglik = out
        ref_alpha, log_scale = hmm_core.forward(_frame(x, emissionprob), startprob, transmat)
        alpha_arr = _as_array(alpha, name, "alpha", case)
        if len(x) >= 1000 and alpha_arr.shape == ref_alpha.shape and (
            not np.all(np.isfinite(alpha_arr)) or np.any(alpha_arr.sum(axis=1) == 0)
        ):
            raise AssertionError(f"{name}: alpha is 0 or NaN. Likely mistake: {_SCALE_HINT}  (case: {case})")
        K = len(startprob)
        variants = [
            (_SCALE_HINT, lambda: _fb(x, startprob, transmat, emissionprob, rescale=False)[0]),
            ("transposed transition matrix: transmat[i, j] = p(z_{t+1} = j | z_t = i), so "
             "alpha_t = (alpha_{t-1} @ transmat) * emissionprob[:, x_t]",
             lambda: _fb(x, startprob, transmat.T, emissionprob)[0]),
            ("ignored startprob: alpha_1(k) = startprob[k] * emissionprob[k, x_1]",
             lambda: _fb(x, np.full(K, 1 / K), transmat, emissionprob)[0]),
            ("the emission of x_t is missing from alpha_t (only the prediction step was done)",
             lambda: _predict_only(x, startprob, transmat)),
        ]
        _compare(name, "alpha", alpha_arr, ref_alpha, case, variants, " = (n_steps, n_states)")
        expected = float(np.sum(log_scale))
        got_ll = _as_array(loglik, name, "the log-likelihood", case)
        if got_ll.size != 1:
            raise AssertionError(f"{name}: the log-likelihood must be one number, got shape {got_ll.shape}  (case: {case})")
        if not np.isfinite(got_ll.reshape(())) and len(x) >= 1000:
            raise AssertionError(f"{name}: the log-likelihood is not finite. Likely mistake: {_SCALE_HINT}  (case: {case})")
        _compare(name, "the log-likelihood", got_ll.reshape(()), expected, case, [
            ("returned only log c_T; the log-likelihood is the sum of the logs of all scaling factors",
             lambda: log_scale[-1]),
            ("returned the likelihood, not its logarithm", lambda: np.exp(expected)),
            ("summed the scaling factors c_t instead of their logs", lambda: np.sum(np.exp(log_scale))),
        ])


def _predict_only(x, startprob, transmat):
    T = len(x)
    out = np.empty((T, len(startprob)))
    out[0] = startprob
    for t in range(1, T):
        out[t] = out[t - 1] @ transmat
    return out


def check_posteriors(posteriors: Callable) -> None:
    """Check ``posteriors(x, startprob, transmat, emissionprob) -> gamma``.

    ``gamma[t, k] = p(z_t = k | x_1..x_T)`` (:eq:`hmm-gamma`), shape
    ``(n_steps, n_states)``; the reference is
    :func:`emtutor.hmm_core.forward_backward`.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "posteriors"
    for case, x, startprob, transmat, emissionprob in _hmm_cases():
        got = _call(posteriors, name, case, x, startprob, transmat, emissionprob)
        expected = hmm_core.forward_backward(_frame(x, emissionprob), startprob, transmat, "scaled")[0]
        got_arr = _as_array(got, name, "gamma", case)
        if len(x) >= 1000 and got_arr.shape == expected.shape and not np.all(np.isfinite(got_arr)):
            raise AssertionError(
                f"{name}: gamma contains NaN or inf. Likely mistake: the forward or backward pass is "
                f"not rescaled (both underflow on long sequences); scale beta_t by the forward pass's c_{{t+1}}  (case: {case})"
            )
        variants = [
            ("forgot the backward pass: this is the filtered p(z_t | x_1..x_t), not the smoothed "
             "p(z_t | x_1..x_T); multiply alpha_t by beta_t and normalise",
             lambda: _fb(x, startprob, transmat, emissionprob)[0]),
            ("transposed transition matrix (in both passes)",
             lambda: _fb(x, startprob, transmat.T, emissionprob)[3]),
            ("transposed transition matrix in the backward pass: beta_t = transmat @ "
             "(emissionprob[:, x_{t+1}] * beta_{t+1})",
             lambda: _fb(x, startprob, transmat, emissionprob, A_bwd=transmat.T)[3]),
            ("gamma is not normalised: each row gamma[t] must sum to 1 (divide alpha_t * beta_t by its sum)",
             lambda: _unnormalised_gamma(x, startprob, transmat, emissionprob)),
        ]
        _compare(name, "gamma", got_arr, expected, case, variants, " = (n_steps, n_states)")


def _unnormalised_gamma(x, startprob, transmat, emissionprob):
    alpha, _, beta, _, _ = _fb(x, startprob, transmat, emissionprob, rescale=len(x) > 200)
    return alpha * beta


def check_baum_welch_update(baum_welch_update: Callable) -> None:
    """Check one Baum–Welch iteration ``(x, startprob, transmat, emissionprob) -> new params``.

    The new ``(startprob, transmat, emissionprob)`` must be the E-step
    (:func:`emtutor.hmm.e_step`) followed by the M-step
    (:func:`emtutor.hmm.m_step`): :eq:`hmm-m-start`, :eq:`hmm-m-transmat`,
    :eq:`hmm-m-emissionprob`.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "baum_welch_update"
    for case, x, startprob, transmat, emissionprob in _hmm_cases(single=False):
        out = _call(baum_welch_update, name, case, x, startprob, transmat, emissionprob)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise AssertionError(f"{name} must return a tuple (startprob, transmat, emissionprob)  (case: {case})")
        new_start, new_trans, new_emit = out
        params = hmm.CategoricalHMMParams(startprob, transmat, emissionprob)
        data = hmm.Sequences(x, np.array([len(x)]))
        stats, _ = hmm.e_step(data, params, method="scaled")
        ref = hmm.m_step(data, stats)
        alpha, _, _, gamma, xi = _fb(x, startprob, transmat, emissionprob)
        onehot = np.eye(emissionprob.shape[1])[x]
        counts = gamma.T @ onehot
        _compare(name, "startprob", new_start, ref.startprob, case, [
            ("the new startprob is gamma at the first step, not the average of gamma over time",
             lambda: gamma.mean(axis=0)),
            ("the new startprob must come from the posterior gamma[0], not the filtered alpha[0]",
             lambda: alpha[0]),
        ], " = (n_states,)")
        _compare(name, "transmat", new_trans, ref.transmat, case, [
            ("transposed transition matrix: transmat[i, j] = p(z_{t+1} = j | z_t = i) = "
             "expected transitions i -> j over expected transitions out of i", lambda: ref.transmat.T),
            ("transposed transition matrix in the E-step (xi_t(i, j) uses transmat[i, j])",
             lambda: _rows(_fb(x, startprob, transmat.T, emissionprob)[4])),
            ("expected transitions normalised over columns; normalise each row i (transitions out of i)",
             lambda: xi / xi.sum(axis=0, keepdims=True)),
            ("expected transitions divided by gamma summed over all T steps; the denominator "
             "sums over t = 1..T-1 only (equivalently, normalise each row of the expected transition counts)",
             lambda: xi / gamma.sum(axis=0)[:, None]),
            ("expected transition counts not normalised: divide each row by its sum", lambda: xi),
            ("the pair posteriors xi_t are not normalised at each step: divide each xi_t by its "
             "sum over (i, j) (or by the scaling factor c_{t+1})",
             lambda: _rows(_xi_unnormalised(x, startprob, transmat, emissionprob))),
        ], " = (n_states, n_states)")
        _compare(name, "emissionprob", new_emit, ref.emissionprob, case, [
            ("expected emission counts not normalised: divide by the expected number of visits "
             "to each state, sum_t gamma[t, k]", lambda: counts),
            ("expected emission counts divided by the number of steps T instead of by sum_t gamma[t, k]",
             lambda: counts / len(x)),
            ("emission counts normalised over states (columns) instead of symbols (rows)",
             lambda: counts / counts.sum(axis=0, keepdims=True)),
            ("emissions re-estimated from the filtered alpha instead of the posterior gamma",
             lambda: _rows(alpha.T @ onehot)),
        ], " = (n_states, n_symbols)")


def _rows(m):
    return m / m.sum(axis=1, keepdims=True)


def _xi_unnormalised(x, startprob, transmat, emissionprob):
    alpha, _, beta, _, _ = _fb(x, startprob, transmat, emissionprob)
    lik = emissionprob.T[x]
    return sum(alpha[t][:, None] * transmat * (lik[t + 1] * beta[t + 1])[None] for t in range(len(x) - 1))


# ---------------------------------------------------------------- A3: coins

_PAPER_HEADS = np.array([5.0, 9.0, 8.0, 4.0, 7.0])


def _coin_cases():
    rng = np.random.default_rng(4)
    tosses = rng.integers(5, 21, size=12).astype(float)
    heads = rng.binomial(tosses.astype(int), 0.55).astype(float)
    many = np.full(6, 2000.0)
    many_heads = np.array([1100.0, 1050.0, 980.0, 1500.0, 1480.0, 1020.0])
    return [
        ("Do & Batzoglou: 5 sets of 10 tosses", _PAPER_HEADS, np.full(5, 10.0),
         np.array([0.5, 0.5]), np.array([0.6, 0.5])),
        ("unequal weights, unequal numbers of tosses", heads, tosses,
         np.array([0.8, 0.2]), np.array([0.3, 0.7])),
        ("three coins", heads, tosses, np.array([0.2, 0.5, 0.3]), np.array([0.2, 0.5, 0.9])),
        ("2000 tosses per set", many_heads, many, np.array([0.5, 0.5]), np.array([0.52, 0.74])),
    ]


def check_coins_e_step(coins_e_step: Callable) -> None:
    """Check ``coins_e_step(heads, tosses, weights, thetas) -> resp``.

    ``resp[i, k]`` is the posterior probability that coin ``k`` made set
    ``i`` (:eq:`coins-e-step`); the reference is :func:`emtutor.coins.e_step`.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "coins_e_step"
    for case, heads, tosses, weights, thetas in _coin_cases():
        got = _call(coins_e_step, name, case, heads, tosses, weights, thetas)
        data = coins.CoinData(heads, tosses)
        expected, _ = coins.e_step(data, coins.CoinParams(weights, thetas))
        got_arr = _as_array(got, name, "resp", case)
        if case.startswith("2000") and got_arr.shape == expected.shape and (
            not np.all(np.isfinite(got_arr)) or np.any(got_arr.sum(axis=1) == 0)
        ):
            raise AssertionError(
                f"{name}: resp is NaN or 0. Likely mistake: the likelihoods theta^h (1 - theta)^(n - h) "
                "are computed without log space and underflow to 0 for long sets; compute "
                "log weights + h log theta + (n - h) log(1 - theta) and normalise with "
                f"scipy.special.logsumexp  (case: {case})"
            )
        h, n = heads[:, None], tosses[:, None]
        log_lik = xlogy(h, thetas) + xlogy(n - h, 1 - thetas)
        log_w = np.log(weights)
        _compare(name, "resp", got_arr, expected, case, [
            ("responsibilities not normalised across coins: divide each row by its sum over coins",
             lambda: np.exp(log_w + log_lik)),
            ("normalised over the sets (axis 0) instead of over the coins (axis 1)",
             lambda: softmax(log_w + log_lik, axis=0)),
            ("forgot the coin weights: resp[i, k] is proportional to weights[k] * p(set i | coin k)",
             lambda: softmax(log_lik, axis=1)),
            ("the likelihood of a set lacks the tails factor (1 - theta_k)^(n_i - h_i)",
             lambda: softmax(log_w + xlogy(h, thetas), axis=1)),
            ("heads and tails swapped: p(set | coin k) = theta_k^h (1 - theta_k)^(n - h)",
             lambda: softmax(log_w + xlogy(h, 1 - thetas) + xlogy(n - h, thetas), axis=1)),
        ], " = (n_sets, n_coins)")


def check_coins_m_step(coins_m_step: Callable) -> None:
    """Check ``coins_m_step(heads, tosses, resp) -> thetas``.

    ``thetas[k]`` is coin ``k``'s expected heads over its expected tosses
    (:eq:`coins-m-step`); the reference is :func:`emtutor.coins.m_step`.

    Raises
    ------
    AssertionError
        Naming the likely mistake and the case it showed up on.
    """
    name = "coins_m_step"
    cases = [(case, h, n, coins.e_step(coins.CoinData(h, n), coins.CoinParams(w, th))[0])
             for case, h, n, w, th in _coin_cases()[:3]]
    cases.append(("one coin", cases[1][1], cases[1][2], np.ones((len(cases[1][1]), 1))))
    for case, heads, tosses, r in cases:
        got = _call(coins_m_step, name, case, heads, tosses, r)
        expected = coins.m_step(coins.CoinData(heads, tosses), r).thetas
        hard = np.eye(r.shape[1])[np.argmax(r, axis=1)]
        _compare(name, "thetas", got, expected, case, [
            ("averaged the per-set fractions h_i / n_i; theta_k is expected heads over "
             "expected tosses, sum_i resp[i, k] h_i / sum_i resp[i, k] n_i",
             lambda: r.T @ (heads / tosses) / r.sum(axis=0)),
            ("divided the expected heads by the expected number of sets instead of the "
             "expected number of tosses", lambda: r.T @ heads / r.sum(axis=0)),
            ("used hard assignments (each set to its most likely coin); EM weights every set "
             "by its responsibilities", lambda: hard.T @ heads / (hard.T @ tosses)),
            ("counted tails instead of heads", lambda: 1 - expected),
            ("the sets are not weighted by the responsibilities",
             lambda: np.full(r.shape[1], heads.sum() / tosses.sum())),
        ], " = (n_coins,)")
