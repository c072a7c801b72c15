"""emtutor.checks: each named mistake gets its specific hint; correct solutions pass.

Every "student" function here is written from the equations, independently
of emtutor's reference code: correct versions in several styles (loops,
vectorised, other argument names), and deliberately wrong versions, one per
mistake the checker claims to recognise.
"""

import numpy as np
import pytest
from scipy.special import logsumexp

from emtutor import checks


# ------------------------------------------------------------- GMM helpers


def log_normal(X, mean, cov):
    d = X.shape[1]
    diff = X - mean
    sol = np.linalg.solve(cov, diff.T).T
    return -0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + np.sum(diff * sol, axis=1))


def naive_normal(X, mean, cov):
    d = X.shape[1]
    diff = X - mean
    quad = np.sum(diff * np.linalg.solve(cov, diff.T).T, axis=1)
    return np.exp(-0.5 * quad) / np.sqrt((2 * np.pi) ** d * np.linalg.det(cov))


def log_weighted(X, w, mu, S):
    return np.stack([np.log(w[k]) + log_normal(X, mu[k], S[k]) for k in range(len(w))], axis=1)


def e_step_vectorised(X, weights, means, covariances):
    lw = log_weighted(X, weights, means, covariances)
    return np.exp(lw - logsumexp(lw, axis=1, keepdims=True))


def e_step_loops(data, pi, mu, sigma):  # other argument names, explicit loops
    n, K = len(data), len(pi)
    resp = np.zeros((n, K))
    for i in range(n):
        logs = [np.log(pi[k]) + log_normal(data[i : i + 1], mu[k], sigma[k])[0] for k in range(K)]
        top = max(logs)
        total = sum(np.exp(v - top) for v in logs)
        for k in range(K):
            resp[i, k] = np.exp(logs[k] - top) / total
    return resp


def e_step_naive(X, weights, means, covariances):  # no log space
    dens = np.stack([weights[k] * naive_normal(X, means[k], covariances[k]) for k in range(len(weights))], 1)
    return dens / dens.sum(axis=1, keepdims=True)


def e_step_unnormalised(X, weights, means, covariances):
    return np.exp(log_weighted(X, weights, means, covariances))


def e_step_axis0(X, weights, means, covariances):
    lw = log_weighted(X, weights, means, covariances)
    return np.exp(lw - logsumexp(lw, axis=0, keepdims=True))


def e_step_no_weights(X, weights, means, covariances):
    return e_step_vectorised(X, np.ones(len(weights)), means, covariances)


def e_step_no_determinant(X, weights, means, covariances):
    lw = log_weighted(X, weights, means, covariances)
    lw = lw + 0.5 * np.linalg.slogdet(covariances)[1]
    return np.exp(lw - logsumexp(lw, axis=1, keepdims=True))


def e_step_transposed(X, weights, means, covariances):
    return e_step_vectorised(X, weights, means, covariances).T


def m_step_vectorised(X, resp):
    Nk = resp.sum(axis=0)
    weights = Nk / len(X)
    means = resp.T @ X / Nk[:, None]
    covs = np.stack([(resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / Nk[k] for k in range(len(Nk))])
    return weights, means, covs


def m_step_loops(points, r):
    n, d = points.shape
    K = r.shape[1]
    weights, means, covs = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d))
    for k in range(K):
        Nk = sum(r[i, k] for i in range(n))
        weights[k] = Nk / n
        means[k] = sum(r[i, k] * points[i] for i in range(n)) / Nk
        covs[k] = sum(r[i, k] * np.outer(points[i] - means[k], points[i] - means[k]) for i in range(n)) / Nk
    return [weights, means, covs]


def m_step_cov_over_n(X, resp):
    w, mu, S = m_step_vectorised(X, resp)
    return w, mu, S * (resp.sum(0) / len(X))[:, None, None]


def m_step_weights_not_divided(X, resp):
    w, mu, S = m_step_vectorised(X, resp)
    return w * len(X), mu, S


def m_step_means_over_n(X, resp):
    w, mu, S = m_step_vectorised(X, resp)
    return w, resp.T @ X / len(X), S


def m_step_diagonal(X, resp):
    w, mu, S = m_step_vectorised(X, resp)
    return w, mu, np.stack([np.diag(np.diag(s)) for s in S])


def log_likelihood_ok(X, weights, means, covariances):
    return float(np.sum(logsumexp(log_weighted(X, weights, means, covariances), axis=1)))


def log_likelihood_loops(x, w, m, c):
    total = 0.0
    for i in range(len(x)):
        total += logsumexp([np.log(w[k]) + log_normal(x[i : i + 1], m[k], c[k])[0] for k in range(len(w))])
    return total


def log_likelihood_naive(X, weights, means, covariances):
    return float(np.sum(np.log(sum(weights[k] * naive_normal(X, means[k], covariances[k]) for k in range(len(weights))))))


def log_likelihood_no_weights(X, weights, means, covariances):
    return log_likelihood_ok(X, np.ones(len(weights)), means, covariances)


def log_likelihood_mean(X, weights, means, covariances):
    return log_likelihood_ok(X, weights, means, covariances) / len(X)


# ------------------------------------------------------------- HMM helpers


def forward_ok(x, startprob, transmat, emissionprob):
    T, K = len(x), len(startprob)
    alpha, c = np.zeros((T, K)), np.zeros(T)
    for t in range(T):
        a = startprob * emissionprob[:, x[t]] if t == 0 else (alpha[t - 1] @ transmat) * emissionprob[:, x[t]]
        c[t] = a.sum()
        alpha[t] = a / c[t]
    return alpha, np.log(c).sum()


def forward_log_space(obs, pi, A, B):  # log-space version, other names
    logA, logB = np.log(A), np.log(B)
    la = np.log(pi) + logB[:, obs[0]]
    rows = [la]
    for t in range(1, len(obs)):
        la = logsumexp(rows[-1][:, None] + logA, axis=0) + logB[:, obs[t]]
        rows.append(la)
    la = np.array(rows)
    return np.exp(la - logsumexp(la, axis=1, keepdims=True)), logsumexp(la[-1])


def forward_unscaled(x, startprob, transmat, emissionprob):
    T, K = len(x), len(startprob)
    alpha = np.zeros((T, K))
    alpha[0] = startprob * emissionprob[:, x[0]]
    for t in range(1, T):
        alpha[t] = (alpha[t - 1] @ transmat) * emissionprob[:, x[t]]
    return alpha, np.log(alpha[-1].sum())


def forward_transposed(x, startprob, transmat, emissionprob):
    return forward_ok(x, startprob, transmat.T, emissionprob)


def forward_no_start(x, startprob, transmat, emissionprob):
    return forward_ok(x, np.full(len(startprob), 1 / len(startprob)), transmat, emissionprob)


def backward_ok(x, transmat, emissionprob, c):
    T, K = len(x), transmat.shape[0]
    beta = np.ones((T, K))
    for t in range(T - 2, -1, -1):
        beta[t] = transmat @ (emissionprob[:, x[t + 1]] * beta[t + 1]) / c[t + 1]
    return beta


def scales(x, startprob, transmat, emissionprob):
    alpha, _ = forward_ok(x, startprob, transmat, emissionprob)
    c = np.empty(len(x))
    c[0] = startprob @ emissionprob[:, x[0]]
    for t in range(1, len(x)):
        c[t] = (alpha[t - 1] @ transmat) @ emissionprob[:, x[t]]
    return alpha, c


def posteriors_ok(x, startprob, transmat, emissionprob):
    alpha, c = scales(x, startprob, transmat, emissionprob)
    g = alpha * backward_ok(x, transmat, emissionprob, c)
    return g / g.sum(axis=1, keepdims=True)


def posteriors_filtered(x, startprob, transmat, emissionprob):
    return forward_ok(x, startprob, transmat, emissionprob)[0]


def posteriors_backward_transposed(x, startprob, transmat, emissionprob):
    alpha, c = scales(x, startprob, transmat, emissionprob)
    g = alpha * backward_ok(x, transmat.T, emissionprob, c)
    return g / g.sum(axis=1, keepdims=True)


def baum_welch_ok(x, startprob, transmat, emissionprob, variant=None):
    alpha, c = scales(x, startprob, transmat, emissionprob)
    beta = backward_ok(x, transmat, emissionprob, c)
    gamma = alpha * beta
    gamma /= gamma.sum(axis=1, keepdims=True)
    K, M = emissionprob.shape
    xi = np.zeros((K, K))
    for t in range(len(x) - 1):
        xi += alpha[t][:, None] * transmat * (emissionprob[:, x[t + 1]] * beta[t + 1])[None] / c[t + 1]
    counts = np.zeros((K, M))
    for t in range(len(x)):
        counts[:, x[t]] += gamma[t]
    new_start = gamma[0]
    new_trans = xi / xi.sum(axis=1, keepdims=True)
    new_emit = counts / counts.sum(axis=1, keepdims=True)
    if variant == "transposed":
        new_trans = new_trans.T
    elif variant == "columns":
        new_trans = xi / xi.sum(axis=0, keepdims=True)
    elif variant == "gamma_all_T":
        new_trans = xi / gamma.sum(axis=0)[:, None]
    elif variant == "emission_unnormalised":
        new_emit = counts
    elif variant == "start_mean":
        new_start = gamma.mean(axis=0)
    return new_start, new_trans, new_emit


def wrong_bw(variant):
    return lambda x, s, a, b: baum_welch_ok(x, s, a, b, variant)


# ------------------------------------------------------------ coins helpers


def coins_e_ok(heads, tosses, weights, thetas):
    lj = np.log(weights) + heads[:, None] * np.log(thetas) + (tosses - heads)[:, None] * np.log1p(-thetas)
    return np.exp(lj - logsumexp(lj, axis=1, keepdims=True))


def coins_e_loops(h, n, w, p):
    out = np.zeros((len(h), len(p)))
    for i in range(len(h)):
        logs = [np.log(w[k]) + h[i] * np.log(p[k]) + (n[i] - h[i]) * np.log(1 - p[k]) for k in range(len(p))]
        out[i] = np.exp(np.array(logs) - logsumexp(logs))
    return out


def coins_e_naive(heads, tosses, weights, thetas):
    lik = weights * thetas ** heads[:, None] * (1 - thetas) ** (tosses - heads)[:, None]
    return lik / lik.sum(axis=1, keepdims=True)


def coins_e_no_weights(heads, tosses, weights, thetas):
    return coins_e_ok(heads, tosses, np.ones_like(weights), thetas)


def coins_e_no_tails(heads, tosses, weights, thetas):
    return coins_e_ok(heads, heads, weights, thetas)


def coins_m_ok(heads, tosses, resp):
    return resp.T @ heads / (resp.T @ tosses)


def coins_m_loops(h, n, r):
    return np.array([sum(r[i, k] * h[i] for i in range(len(h))) / sum(r[i, k] * n[i] for i in range(len(h)))
                     for k in range(r.shape[1])])


def coins_m_fractions(heads, tosses, resp):
    return resp.T @ (heads / tosses) / resp.sum(axis=0)


def coins_m_hard(heads, tosses, resp):
    hard = np.eye(resp.shape[1])[resp.argmax(axis=1)]
    return hard.T @ heads / (hard.T @ tosses)


# ------------------------------------------------------------------- tests


@pytest.mark.parametrize("check, fn", [
    (checks.check_e_step, e_step_vectorised),
    (checks.check_e_step, e_step_loops),
    (checks.check_m_step, m_step_vectorised),
    (checks.check_m_step, m_step_loops),
    (checks.check_log_likelihood, log_likelihood_ok),
    (checks.check_log_likelihood, log_likelihood_loops),
    (checks.check_forward, forward_ok),
    (checks.check_forward, forward_log_space),
    (checks.check_posteriors, posteriors_ok),
    (checks.check_baum_welch_update, baum_welch_ok),
    (checks.check_coins_e_step, coins_e_ok),
    (checks.check_coins_e_step, coins_e_loops),
    (checks.check_coins_m_step, coins_m_ok),
    (checks.check_coins_m_step, coins_m_loops),
], ids=lambda v: getattr(v, "__name__", None))
def test_correct_solutions_pass(check, fn):
    assert check(fn) is None


@pytest.mark.parametrize("check, fn, hint", [
    (checks.check_e_step, e_step_naive, "without log space"),
    (checks.check_e_step, e_step_unnormalised, "not normalised across components"),
    (checks.check_e_step, e_step_axis0, "over the points (axis 0)"),
    (checks.check_e_step, e_step_no_weights, "forgot the mixing weights"),
    (checks.check_e_step, e_step_no_determinant, "normalising factor"),
    (checks.check_e_step, e_step_transposed, "transposed?"),
    (checks.check_m_step, m_step_cov_over_n, "covariance divided by n instead of N_k"),
    (checks.check_m_step, m_step_weights_not_divided, "mixing weights not divided by n"),
    (checks.check_m_step, m_step_means_over_n, "means divided by n instead of N_k"),
    (checks.check_m_step, m_step_diagonal, "only the variances"),
    (checks.check_log_likelihood, log_likelihood_naive, "without log space"),
    (checks.check_log_likelihood, log_likelihood_no_weights, "forgot the mixing weights"),
    (checks.check_log_likelihood, log_likelihood_mean, "averaged over the points"),
    (checks.check_forward, forward_unscaled, "not rescaled"),
    (checks.check_forward, forward_transposed, "transposed transition matrix"),
    (checks.check_forward, forward_no_start, "ignored startprob"),
    (checks.check_posteriors, posteriors_filtered, "forgot the backward pass"),
    (checks.check_posteriors, posteriors_backward_transposed, "transposed transition matrix in the backward pass"),
    (checks.check_baum_welch_update, wrong_bw("transposed"), "transposed transition matrix"),
    (checks.check_baum_welch_update, wrong_bw("columns"), "normalised over columns"),
    (checks.check_baum_welch_update, wrong_bw("gamma_all_T"), "summed over all T steps"),
    (checks.check_baum_welch_update, wrong_bw("emission_unnormalised"), "emission counts not normalised"),
    (checks.check_baum_welch_update, wrong_bw("start_mean"), "not the average of gamma"),
    (checks.check_coins_e_step, coins_e_naive, "without log space"),
    (checks.check_coins_e_step, coins_e_no_weights, "forgot the coin weights"),
    (checks.check_coins_e_step, coins_e_no_tails, "lacks the tails factor"),
    (checks.check_coins_m_step, coins_m_fractions, "averaged the per-set fractions"),
    (checks.check_coins_m_step, coins_m_hard, "hard assignments"),
])
def test_each_mistake_gets_its_hint(check, fn, hint):
    with pytest.raises(AssertionError) as info:
        check(fn)
    assert hint in str(info.value)
    assert "case:" in str(info.value) or "case '" in str(info.value)


def test_unrecognised_mistake_gets_a_generic_message_naming_quantity_and_case():
    def e_step_off(X, weights, means, covariances):
        resp = e_step_vectorised(X, weights, means, covariances)
        resp[0] = resp[0][::-1]  # an arbitrary error on one point
        return resp

    with pytest.raises(AssertionError, match=r"resp differs from the expected value on the case 'ordinary"):
        checks.check_e_step(e_step_off)


def test_student_errors_are_reported_with_the_case_and_stubs_propagate():
    def broken(X, weights, means, covariances):
        return X[:, 5]

    with pytest.raises(AssertionError, match=r"e_step raised IndexError.*case: ordinary"):
        checks.check_e_step(broken)

    def stub(X, resp):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_m_step(stub)


def test_messages_do_not_reveal_reference_outputs():
    """A wrong answer's message shows no array from the reference (only the gap)."""
    with pytest.raises(AssertionError) as info:
        checks.check_m_step(lambda X, resp: m_step_vectorised(X, resp[:, ::-1]))
    message = str(info.value)
    assert "[" not in message and "array" not in message


def test_inputs_are_copies():
    """A student function that overwrites its inputs cannot corrupt later cases."""
    def destructive(X, weights, means, covariances):
        resp = e_step_vectorised(X, weights, means, covariances)
        X[:] = 0.0
        covariances[:] = np.nan
        return resp

    checks.check_e_step(destructive)
