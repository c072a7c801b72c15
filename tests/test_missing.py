"""EM for the multivariate normal with missing values (emtutor.missing)."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.stats import multivariate_normal

from emtutor import ConvergenceWarning, MissingNormal, missing
from emtutor.missing import MissingNormalParams


# ---------------------------------------------------------------- helpers


def random_spd(rng, d):
    A = rng.standard_normal((d, d))
    return A @ A.T / d + 0.5 * np.eye(d)


def correlated_data(rng, n, d):
    mean = rng.normal(0.0, 3.0, size=d)
    return rng.multivariate_normal(mean, random_spd(rng, d), size=n)


def mcar(rng, X, rate, n_complete):
    """Hide each value with probability ``rate``, keeping the first rows complete."""
    X = X.copy()
    hide = rng.random(X.shape) < rate
    hide[:n_complete] = False
    X[hide] = np.nan
    return X


def fit_to_convergence(X, max_iter=800, **kwargs):
    """Run EM until the parameters stop moving (tol=0, so it always hits max_iter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return missing.fit(X, tol=0.0, max_iter=max_iter, **kwargs)


def per_row_e_step(X, mean, cov):
    """Oracle: the textbook formulas, one row at a time, with Sigma_oo directly."""
    n, d = X.shape
    X_hat = X.copy()
    correction = np.zeros((d, d))
    log_norm = np.zeros(n)
    for i in range(n):
        m = np.isnan(X[i])
        o = ~m
        if not o.any():
            X_hat[i] = mean
            continue
        S_oo = cov[np.ix_(o, o)]
        log_norm[i] = multivariate_normal.logpdf(X[i, o], mean[o], S_oo)
        if m.any():
            B = np.linalg.solve(S_oo, cov[np.ix_(o, m)]).T  # Sigma_mo Sigma_oo^{-1}
            X_hat[i, m] = mean[m] + B @ (X[i, o] - mean[o])
            correction[np.ix_(m, m)] += cov[np.ix_(m, m)] - B @ cov[np.ix_(o, m)]
    return X_hat, correction, log_norm


def brute_force_mle(X, start, reg_covar=0.0):
    """Maximise the observed-data log-likelihood directly over (mu, L), Sigma = L L'.

    With ``reg_covar > 0``, the penalised log-likelihood
    ``LL - (reg_covar / 2) N tr(inv(Sigma))`` (``N`` rows with an observed value)."""
    n, d = X.shape
    tril = np.tril_indices(d)
    diag = np.arange(d)
    # rows grouped by observed set, so each likelihood evaluation is a few array ops
    observed = ~np.isnan(X)
    patterns = [o for o in np.unique(observed, axis=0) if o.any()]
    blocks = [(o, X[(observed == o).all(axis=1)][:, o]) for o in patterns]
    n_used = int(observed.any(axis=1).sum())

    def unpack(theta):
        mu = theta[:d]
        L = np.zeros((d, d))
        L[tril] = theta[d:]
        L[diag, diag] = np.exp(L[diag, diag])
        return mu, L @ L.T

    def negative_ll(theta):
        mu, cov = unpack(theta)
        total = 0.0
        for o, x in blocks:
            S = cov[np.ix_(o, o)]
            z = x - mu[o]
            _, log_det = np.linalg.slogdet(S)
            maha = np.einsum("ij,ji->", z, np.linalg.solve(S, z.T))
            total += 0.5 * (x.size * np.log(2 * np.pi) + len(x) * log_det + maha)
        return total + 0.5 * reg_covar * n_used * np.trace(np.linalg.inv(cov))

    L0 = np.linalg.cholesky(start.covariance)
    L0[diag, diag] = np.log(L0[diag, diag])
    theta0 = np.r_[start.mean, L0[tril]]
    opt = minimize(negative_ll, theta0, method="BFGS", jac="3-point", options={"gtol": 1e-9, "maxiter": 5000})
    return unpack(opt.x), -opt.fun


# --------------------------------------------------- reductions and oracles


def test_nothing_missing_gives_sample_mean_and_mle_covariance_after_one_iteration(rng):
    X = correlated_data(rng, 50, 4)
    start = MissingNormalParams(np.zeros(4), 7.0 * np.eye(4))  # deliberately far off
    result = missing.fit(X, mean=start.mean, covariance=start.covariance, record=True)
    after_one = result.history.params[1]
    np.testing.assert_allclose(after_one.mean, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(after_one.covariance, np.cov(X, rowvar=False, bias=True), rtol=1e-12)
    assert result.n_iter == 2 and result.converged  # the second iteration changes nothing


def anderson_monotone_mle(X, p):
    """Closed-form MLE for a monotone block pattern (Anderson 1957).

    Columns ``:p`` are always observed; columns ``p:`` are observed together
    or missing together.  The likelihood factorises into the marginal of the
    first block (all rows) and the regression of the second on the first
    (complete rows), each maximised by its own sample moments.
    """
    x1 = X[:, :p]
    complete = ~np.isnan(X[:, p:]).any(axis=1)
    mu1 = x1.mean(axis=0)
    S11 = np.cov(x1, rowvar=False, bias=True).reshape(p, p)
    c1, c2 = X[complete, :p], X[complete, p:]
    m1, m2 = c1.mean(axis=0), c2.mean(axis=0)
    C11 = (c1 - m1).T @ (c1 - m1) / len(c1)
    C12 = (c1 - m1).T @ (c2 - m2) / len(c1)
    C22 = (c2 - m2).T @ (c2 - m2) / len(c1)
    B = np.linalg.solve(C11, C12)  # regression coefficients, (p, q)
    resid = C22 - C12.T @ B
    mu2 = m2 + B.T @ (mu1 - m1)
    S12 = S11 @ B
    S22 = resid + B.T @ S11 @ B
    mean = np.r_[mu1, mu2]
    cov = np.block([[S11, S12], [S12.T, S22]])
    return mean, cov


@pytest.mark.parametrize("p, q, n, n_missing", [(1, 1, 40, 15), (2, 1, 60, 30), (2, 3, 80, 25), (3, 2, 30, 10)])
def test_monotone_pattern_matches_anderson_closed_form(rng, p, q, n, n_missing):
    X = correlated_data(rng, n, p + q)
    X[n - n_missing :, p:] = np.nan
    mean, cov = anderson_monotone_mle(X, p)
    # shuffle rows and columns: the grouping must not care about the order
    rows, cols = rng.permutation(n), rng.permutation(p + q)
    result = fit_to_convergence(X[rows][:, cols])
    np.testing.assert_allclose(result.mean, mean[cols], rtol=0, atol=1e-8)
    np.testing.assert_allclose(result.covariance, cov[np.ix_(cols, cols)], rtol=0, atol=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_brute_force_maximisation(seed):
    rng = np.random.default_rng(seed)
    d = 2 + seed % 2
    X = mcar(rng, correlated_data(rng, 25, d), rate=0.3, n_complete=d + 2)
    X[-1] = np.nan  # an all-missing row: contributes nothing
    result = fit_to_convergence(X)
    (mean, cov), ll = brute_force_mle(X, missing.initial_params(X))
    np.testing.assert_allclose(result.mean, mean, rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.covariance, cov, rtol=0, atol=1e-5)
    assert result.objective >= ll - 1e-9  # EM is at least as high as the optimiser
    assert result.objective == pytest.approx(ll, abs=1e-6)


def test_e_step_matches_per_row_formulas(rng):
    d = 5
    X = mcar(rng, correlated_data(rng, 200, d), rate=0.35, n_complete=0)
    X[[3, 77]] = np.nan
    params = MissingNormalParams(rng.normal(size=d), random_spd(rng, d))
    expectations, log_norm = missing.e_step(X, params)
    X_hat, correction, expected_log_norm = per_row_e_step(X, *params)
    np.testing.assert_allclose(expectations.X_hat, X_hat, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(expectations.cov_correction, correction, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(log_norm, expected_log_norm, rtol=1e-10, atol=1e-10)
    assert missing.log_likelihood(X, params) == pytest.approx(expected_log_norm.sum(), rel=1e-12)
    assert np.all(log_norm[[3, 77]] == 0)


def test_m_step_is_mean_and_covariance_of_expected_statistics(rng):
    d = 3
    X = mcar(rng, correlated_data(rng, 60, d), rate=0.3, n_complete=0)
    X[5] = np.nan
    params = MissingNormalParams(rng.normal(size=d), random_spd(rng, d))
    X_hat, correction, _ = per_row_e_step(X, *params)
    used = ~np.isnan(X).all(axis=1)
    n_used = used.sum()
    # E[x] and E[x x'] summed over the rows that contribute
    sum_x = X_hat[used].sum(axis=0)
    sum_xx = X_hat[used].T @ X_hat[used] + correction
    mean = sum_x / n_used
    cov = sum_xx / n_used - np.outer(mean, mean)
    new = missing.m_step(X, missing.MissingExpectations(X_hat, correction))
    np.testing.assert_allclose(new.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(new.covariance, cov, rtol=1e-9, atol=1e-12)


def test_all_missing_rows_contribute_nothing_and_are_imputed_with_the_mean(rng):
    X = mcar(rng, correlated_data(rng, 40, 3), rate=0.2, n_complete=5)
    padded = np.vstack([X[:10], np.full((4, 3), np.nan), X[10:]])
    a = missing.fit(X, tol=1e-10)
    b = missing.fit(padded, tol=1e-10)
    assert a.n_iter == b.n_iter
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-12)
    np.testing.assert_allclose(b.covariance, a.covariance, rtol=1e-11)
    assert b.objective == pytest.approx(a.objective, rel=1e-13)
    filled = missing.impute(padded, b.params)
    np.testing.assert_array_equal(filled[10:14], np.tile(b.mean, (4, 1)))


def test_impute_keeps_observed_values_and_fills_everything(rng):
    X = mcar(rng, correlated_data(rng, 100, 4), rate=0.3, n_complete=0)
    result = missing.fit(X, tol=1e-8)
    filled = missing.impute(X, result.params)
    observed = ~np.isnan(X)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[observed], X[observed])
    np.testing.assert_allclose(filled, result.expectations.X_hat)


def test_sample_imputations_match_conditional_distribution(rng):
    d = 3
    cov = random_spd(rng, d)
    params = MissingNormalParams(np.array([1.0, -2.0, 0.5]), cov)
    X = np.array([[0.3, np.nan, np.nan], [np.nan, np.nan, np.nan], [1.0, 2.0, 3.0]])
    draws = missing.sample_imputations(X, params, n_imputations=20000, random_state=3)
    assert draws.shape == (20000, 3, 3)
    assert np.all(draws[:, 0, 0] == 0.3) and np.all(draws[:, 2] == X[2])
    X_hat, correction, _ = per_row_e_step(X[:1], *params)
    sample = draws[:, 0, 1:]
    se = np.sqrt(np.diag(correction[1:, 1:]) / len(sample))
    assert np.all(np.abs(sample.mean(axis=0) - X_hat[0, 1:]) < 5 * se)
    np.testing.assert_allclose(np.cov(sample, rowvar=False), correction[1:, 1:], rtol=0.05)
    np.testing.assert_allclose(np.cov(draws[:, 1], rowvar=False), cov, rtol=0.05, atol=0.02)
    again = missing.sample_imputations(X, params, n_imputations=20000, random_state=3)
    np.testing.assert_array_equal(draws, again)


def test_pattern_grouping_counts_distinct_patterns(rng):
    X = mcar(rng, correlated_data(rng, 300, 6), rate=0.25, n_complete=0)
    data = missing.group_patterns(X)
    assert data.n_patterns == len(np.unique(np.isnan(X), axis=0))
    assert sum(len(g.rows) for g in data._groups) == len(X)
    assert sum(len(g.rows) for g in data._groups if g.n_missing) == np.isnan(X).any(axis=1).sum()


# --------------------------------------------------------- monotone ascent


@given(
    seed=st.integers(0, 2**32 - 1),
    n_features=st.integers(1, 4),
    n_extra=st.integers(0, 30),
    rate=st.floats(0.0, 0.8),
    data=st.data(),
)
def test_log_likelihood_never_decreases(seed, n_features, n_extra, rate, data):
    rng = np.random.default_rng(seed)
    n = n_features + 1 + n_extra
    X = correlated_data(rng, n, n_features)
    # the first n_features + 1 rows stay complete, so the MLE exists; the mask
    # of the other rows is drawn by hypothesis
    flags = data.draw(st.lists(st.booleans(), min_size=n_extra * n_features, max_size=n_extra * n_features))
    hide = np.zeros((n, n_features), dtype=bool)
    hide[n_features + 1 :] = np.array(flags, dtype=bool).reshape(n_extra, n_features)
    hide[n_features + 1 :] |= rng.random((n_extra, n_features)) < rate
    X[hide] = np.nan
    # EM run by hand (the driver would raise on a decrease before any assert
    # could see it), each log-likelihood from the per-row oracle
    data = missing.group_patterns(X)
    params, lls = missing.initial_params(data), []
    for _ in range(60):
        lls.append(per_row_e_step(X, *params)[2].sum())
        expectations, _ = missing.e_step(data, params)
        params = missing.m_step(data, expectations, params)
    assert np.all(np.diff(lls) >= -1e-9 * np.maximum(1.0, np.abs(lls[:-1])))
    # and each value the driver records is the observed-data log-likelihood of its parameters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = missing.fit(X, tol=0.0, max_iter=3, record=True)
    for t in (1, result.n_iter):
        _, _, log_norm = per_row_e_step(X, *result.history.params[t])
        assert result.objectives[t - 1] == pytest.approx(log_norm.sum(), rel=1e-10, abs=1e-10)


# ----------------------------------------------------------------- estimator


def test_estimator_attributes_and_methods(rng):
    X = mcar(rng, correlated_data(rng, 150, 3), rate=0.2, n_complete=0)
    model = MissingNormal(tol=1e-8).fit(X)
    result = missing.fit(X, tol=1e-8)
    np.testing.assert_array_equal(model.mean_, result.mean)
    np.testing.assert_array_equal(model.covariance_, result.covariance)
    assert model.n_iter_ == result.n_iter and model.converged_
    assert model.objective_ == result.objective
    np.testing.assert_array_equal(model.objectives_, result.objectives)
    assert model.n_patterns_ == len(np.unique(np.isnan(X), axis=0))
    np.testing.assert_array_equal(model.transform(X), missing.impute(X, result.params))
    np.testing.assert_array_equal(model.fit_transform(X), model.transform(X))
    assert np.isnan(X).all(axis=1).any()  # the data include a row with nothing observed
    # score: the mean over all rows of log p(x_obs), a row with nothing observed counting log 1 = 0
    np.testing.assert_allclose(model.score_samples(X), per_row_e_step(X, model.mean_, model.covariance_)[2],
                               rtol=1e-12, atol=1e-12)
    assert model.score(X) == pytest.approx(result.objective / len(X), rel=1e-12)
    assert model.score(np.full((2, 3), np.nan)) == 0.0
    model.set_params(random_state=0)
    draws = model.sample_imputations(X, 2)
    assert draws.shape == (2, *X.shape)
    np.testing.assert_array_equal(draws, model.sample_imputations(X, 2))  # random_state reused
    with pytest.raises(ValueError, match="not fitted"):
        MissingNormal().transform(X)


# ----------------------------------------------------------------- bad input


def test_all_missing_column_is_rejected_by_name(rng):
    X = correlated_data(rng, 20, 3)
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match="column 1 of X has no observed value"):
        missing.fit(X)


def test_column_without_two_distinct_values_is_rejected(rng):
    X = correlated_data(rng, 20, 3)
    X[1:, 2] = np.nan
    with pytest.raises(ValueError, match="column 2 of X"):
        missing.fit(X)


def test_too_few_rows_for_a_covariance_is_rejected(rng):
    X = correlated_data(rng, 6, 4)
    X[4:] = np.nan  # 4 rows left with an observed value, 5 needed
    with pytest.raises(ValueError, match="only 4 row.*at least 5"):
        missing.fit(X)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([1.0, 2.0, np.nan]), "2-D"),
        (np.ones((3, 2, 2)), "2-D"),
        (np.empty((0, 3)), "empty"),
        ([["a", "b"], ["c", "d"]], "numeric"),
        (np.array([[1.0, np.inf], [2.0, 3.0], [4.0, 1.0], [0.0, 0.0]]), "inf .*row 0, column 1"),
        (np.array([[1.0, 2.0], [2.0, -np.inf], [4.0, 1.0], [0.0, 0.0]]), "inf"),
    ],
)
def test_bad_data_is_rejected(X, message):
    with pytest.raises(ValueError, match=message):
        missing.fit(X)
    with pytest.raises(ValueError, match=message):
        MissingNormal().fit(X)


def test_bad_initial_parameters_are_rejected(rng):
    X = correlated_data(rng, 20, 2)
    with pytest.raises(ValueError, match="mean must have shape"):
        missing.fit(X, mean=np.zeros(3))
    with pytest.raises(ValueError, match="not positive definite"):
        missing.fit(X, covariance=np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="not symmetric"):
        missing.fit(X, covariance=np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="contains NaN"):
        missing.impute(X, MissingNormalParams(np.array([0.0, np.nan]), np.eye(2)))


def test_input_is_not_modified(rng):
    X = mcar(rng, correlated_data(rng, 30, 3), rate=0.3, n_complete=4)
    before = X.copy()
    result = missing.fit(X)
    missing.impute(X, result.params)
    missing.sample_imputations(X, result.params, 2, random_state=0)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_ascent_is_exact_to_rounding_with_unequal_groups_and_large_mean(rng, offset):
    # one huge pattern group, many small ones, one tiny one, and a mean far from
    # zero (where E[xx'] - mu mu' would cancel): any decrease of the
    # log-likelihood must be rounding, 1000x below the driver's threshold
    d = 4
    X = correlated_data(rng, 5000, d) + offset
    hide = rng.random(X.shape) < 0.02
    hide[:50] = False
    X[hide] = np.nan
    X[-3:, 1:] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = missing.fit(X, tol=0.0, max_iter=100)  # its check allows a decrease of 1e-9 relative
    lls = np.r_[result.initial_objective, result.objectives]
    assert np.all(np.diff(lls) >= -1e-12 * np.abs(lls[:-1]))
    assert lls[-1] - lls[0] > 1.0  # and it did climb


# ------------------------------ no maximum, ill-conditioning, reg_covar (issue 16)


def exact_log_likelihood(X, mean, cov):
    """Oracle: the observed-data log-likelihood with Sigma_oo's determinant and
    Mahalanobis term computed in exact rational arithmetic (Gaussian elimination
    on Fractions of the float inputs), rounded once at the end."""
    from fractions import Fraction

    total = 0.0
    for row in X:
        o = ~np.isnan(row)
        if not o.any():
            continue
        S = [[Fraction(v) for v in r] for r in cov[np.ix_(o, o)]]
        z = [Fraction(a) - Fraction(b) for a, b in zip(row[o], mean[o])]
        A = [r + [zi] for r, zi in zip(S, z)]  # augmented [S | z]
        q, det = len(A), Fraction(1)
        for i in range(q):  # S is positive definite: no pivoting needed
            det *= A[i][i]
            for r in range(q):
                if r != i:
                    f = A[r][i] / A[i][i]
                    A[r] = [a - f * b for a, b in zip(A[r], A[i])]
        maha = sum(zi * A[i][q] / A[i][i] for i, zi in enumerate(z))
        total += -0.5 * (q * np.log(2 * np.pi) + np.log(float(det)) + float(maha))
    return total


def test_log_likelihood_keeps_its_digits_when_the_covariance_is_ill_conditioned(rng):
    # Two features equal up to noise of 1e-5: the maximum exists, but the
    # covariance's condition number is ~1e10.  The E-step used to go through the
    # precision matrix, subtracting numbers of size 1/lambda_min: its
    # log-likelihood was off in the 8th digit and the driver raised a false
    # LikelihoodDecreaseError at iteration 32.
    n = 200
    x = rng.standard_normal(n)
    X = np.c_[x, x + 1e-5 * rng.standard_normal(n), rng.standard_normal(n)]
    X[rng.random(X.shape) < 0.2] = np.nan
    result = missing.fit(X, tol=1e-10)
    assert result.converged
    assert np.linalg.cond(result.covariance) > 1e9
    expected = exact_log_likelihood(X, *result.params)
    assert abs(result.objective - expected) <= 1e-11 * abs(expected)
    log_norm = missing.e_step(X, result.params)[1]
    assert abs(log_norm.sum() - expected) <= 1e-11 * abs(expected)


NO_MAXIMUM = np.array([[1, np.nan, 2], [2, 3, np.nan], [np.nan, 1, 1], [0, 2, 5]])


def test_no_maximum_raises_a_value_error_that_names_the_variables_and_reg_covar():
    # Only row 3 observes all three variables: a plane through the mean and that
    # row fits it exactly, so the likelihood grows without bound as the
    # covariance flattens onto the plane.  This used to end in a false
    # LikelihoodDecreaseError ("the model's e_step or m_step is wrong").
    message = r"variables \[0, 1, 2\] are observed together in only 1 row\(s\).*reg_covar"
    with pytest.raises(ValueError, match=message):
        missing.fit(NO_MAXIMUM)
    with pytest.raises(ValueError, match=message):
        MissingNormal().fit_transform(NO_MAXIMUM)


def test_reg_covar_gives_the_maximum_of_the_penalised_likelihood():
    reg_covar = 0.1
    result = missing.fit(NO_MAXIMUM, reg_covar=reg_covar, tol=1e-12, max_iter=5000, record=True)
    assert result.converged
    # EM ascends the penalised log-likelihood LL - (reg/2) N tr(inv Sigma)
    # at every iteration (the driver checks the log-likelihood with that slack)
    penalised = [exact_log_likelihood(NO_MAXIMUM, *p) - 0.5 * reg_covar * 4 * np.trace(np.linalg.inv(p.covariance))
                 for p in result.history.params]
    assert np.all(np.diff(penalised) >= -1e-12 * np.abs(penalised[:-1]))
    # and it reaches the maximiser a direct optimiser finds
    (mean, cov), best = brute_force_mle(NO_MAXIMUM, missing.initial_params(NO_MAXIMUM), reg_covar=reg_covar)
    np.testing.assert_allclose(result.mean, mean, atol=1e-4)
    np.testing.assert_allclose(result.covariance, cov, atol=1e-4)
    assert penalised[-1] >= best - 1e-8
    assert np.linalg.eigvalsh(result.covariance)[0] >= reg_covar
    model = MissingNormal(reg_covar=reg_covar, tol=1e-12, max_iter=5000).fit(NO_MAXIMUM)
    np.testing.assert_allclose(model.covariance_, result.covariance)


def test_small_random_problems_converge_or_say_why():
    # The study: n 5-60, d 2-5, 10-50% missing.  16% of these used to
    # raise LikelihoodDecreaseError; now each fit converges or raises the
    # ValueError above, and with reg_covar every one converges.
    outcomes = {"converged": 0, "no maximum": 0}
    for seed in range(40):
        r = np.random.default_rng(seed)
        n, d = int(r.integers(8, 61)), int(r.integers(2, 6))
        X = r.standard_normal((n, d)) @ r.standard_normal((d, d))
        X[r.random(X.shape) < r.uniform(0.1, 0.5)] = np.nan
        try:
            data = missing.group_patterns(X)
        except ValueError:
            continue  # a column with < 2 observed values: rejected up front
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                missing.fit(data)
                outcomes["converged"] += 1
            except ValueError as error:
                assert "reg_covar" in str(error) and "observed together in only" in str(error)
                outcomes["no maximum"] += 1
            result = missing.fit(data, reg_covar=1e-6, max_iter=3000)
        assert np.all(np.isfinite(result.covariance))
    assert outcomes["no maximum"] >= 3 and outcomes["converged"] >= 20
