"""Random problems and bad arguments for every public function and estimator.

Shared by ``tests/test_fuzz.py`` (a small, reproducible sample in the normal
test run) and ``benchmarks/fuzz.py`` (thousands of problems per model).

The rule every call must obey: it returns finite numbers, or it raises a
``ValueError`` / ``TypeError`` (for a bad argument, one whose message names
that argument).  :func:`classify` sorts an outcome into

* ``"ok"``: finite result (or, for an invalid input, the expected error);
* ``"value_error"``: a ValueError/TypeError on a valid problem (allowed: a
  collapsed component, a likelihood without a maximum, ...);
* ``"nonfinite"``: a NaN or inf anywhere in the result;
* ``"unrelated"``: any other exception (IndexError, LinAlgError, ...);
* ``"decrease"``: LikelihoodDecreaseError (a false "bug" report);
* ``"accepted"``: an invalid input that returned without an error;
* ``"wrong_name"``: an error for an invalid input that does not name it;
* ``"warning"``: a warning other than ConvergenceWarning (overflow, ...).
"""

from __future__ import annotations

import warnings

import numpy as np

import emtutor
from emtutor import bernoulli, coins, factor, gmm, hmm, hmm_core, lda, missing, online, tmix
from emtutor.em import ConvergenceWarning, LikelihoodDecreaseError

OUTCOMES = ["ok", "value_error", "nonfinite", "unrelated", "decrease", "accepted", "wrong_name", "warning"]


def _finite(value) -> bool:
    """Every number reachable in ``value`` (arrays, tuples, named tuples, results) is finite."""
    if value is None or isinstance(value, (str, bool, np.bool_)):
        return True
    if isinstance(value, (int, float, complex, np.number)):
        return bool(np.isfinite(value))
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.all(np.isfinite(value)))
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, emtutor.em.EMResult):
        return _finite(value.params) and _finite(value.objectives) and _finite(value.expectations)
    if hasattr(value, "__dict__") and hasattr(value, "get_params"):  # a fitted estimator
        return all(_finite(v) for k, v in vars(value).items() if k.endswith("_") and k != "history_")
    if hasattr(value, "_fields"):
        return all(_finite(v) for v in value)
    return True


def classify(call, bad_name: str | None = None) -> tuple[str, str]:
    """Run ``call()`` and sort the outcome (see the module docstring); also return a detail."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            result = call()
        except LikelihoodDecreaseError as exc:
            return "decrease", str(exc)[:200]
        except (ValueError, TypeError) as exc:
            if bad_name is None:
                return "value_error", str(exc)[:200]
            return ("ok" if bad_name in str(exc) else "wrong_name"), f"{type(exc).__name__}: {str(exc)[:200]}"
        except Warning as exc:
            return "warning", f"{type(exc).__name__}: {str(exc)[:200]}"
        except Exception as exc:  # noqa: BLE001 - that is what we count
            return "unrelated", f"{type(exc).__name__}: {str(exc)[:200]}"
    if bad_name is not None:
        return "accepted", f"returned {type(result).__name__}"
    return ("ok", "") if _finite(result) else ("nonfinite", repr(result)[:200])


# ----------------------------------------------------------------- valid problems


def random_matrix(rng, n, d, *, scale_exponent=None, duplicates=None):
    """Data of shape (n, d): clusters, a random scale 10^e (e in -300..300 by default
    leaning to ordinary scales), an offset, and sometimes duplicated rows or a
    constant column."""
    e = scale_exponent if scale_exponent is not None else int(rng.choice(
        [0, 0, 0, 0, rng.integers(-6, 7), rng.integers(-300, 301)]))
    k = int(rng.integers(1, 4))
    centres = rng.normal(0, 5, (k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(0, 1, (n, d)) * rng.uniform(0.01, 2, d)
    X = X * 10.0**e + rng.choice([0.0, 0.0, 1e3, -1e6]) * 10.0**e
    if duplicates or (duplicates is None and rng.random() < 0.2):
        m = int(rng.integers(2, max(3, n // 2 + 1)))
        X[:m] = X[0]
    if d > 1 and rng.random() < 0.05:
        X[:, int(rng.integers(d))] = X[0, 0]  # a constant column
    return X


def gmm_problem(rng):
    n, d = int(rng.integers(2, 60)), int(rng.integers(1, 4))
    X = random_matrix(rng, n, d)
    k = int(rng.integers(1, 5))
    covariance_type = str(rng.choice(["full", "diag", "spherical", "tied"]))
    reg_covar = float(rng.choice([0.0, 1e-6, 1e-3]))
    init = str(rng.choice(["k-means++", "random_from_data"]))
    seed = int(rng.integers(1 << 30))
    X_new = random_matrix(rng, int(rng.integers(1, 5)), d)

    def call():
        model = emtutor.GaussianMixture(k, covariance_type=covariance_type, reg_covar=reg_covar, init=init,
                                        n_init=2, random_state=seed, max_iter=200).fit(X)
        return (model, model.predict_proba(X_new), model.predict(X_new), model.score_samples(X_new),
                model.bic(X), model.aic(X), model.sample(3)[0])
    return call


def hmm_gaussian_problem(rng):
    n, d = int(rng.integers(2, 60)), int(rng.integers(1, 3))
    X = random_matrix(rng, n, d)
    k = int(rng.integers(1, 4))
    covariance_type = str(rng.choice(["full", "diag", "spherical", "tied"]))
    reg_covar = float(rng.choice([0.0, 1e-6, 1e-3]))
    method = str(rng.choice(["chunked", "scaled", "log"]))
    cut = int(rng.integers(1, n + 1))
    lengths = [cut, n - cut] if cut < n else None
    seed = int(rng.integers(1 << 30))

    def call():
        model = emtutor.GaussianHMM(k, covariance_type=covariance_type, reg_covar=reg_covar, method=method,
                                    random_state=seed, max_iter=100).fit(X, lengths)
        return model, model.score(X, lengths), model.predict(X, lengths), model.predict_proba(X, lengths)
    return call


def hmm_categorical_problem(rng):
    n = int(rng.integers(1, 80))
    n_symbols = int(rng.integers(1, 5))
    k = int(rng.integers(1, 5))
    if rng.random() < 0.5:  # a sticky or deterministic chain
        x = np.repeat(rng.integers(n_symbols, size=max(1, n // 5)), 5)[:n]
    else:
        x = rng.integers(n_symbols, size=n)
    transmat = None
    if rng.random() < 0.5 and k > 1:
        transmat = rng.dirichlet(np.ones(k), size=k)
        transmat[rng.random((k, k)) < 0.4] = 0.0
        for row in transmat:
            if row.sum() == 0:
                row[rng.integers(k)] = 1.0
        transmat /= transmat.sum(axis=1, keepdims=True)
    method = str(rng.choice(["chunked", "scaled", "log"]))
    seed = int(rng.integers(1 << 30))

    def call():
        result = hmm.fit_categorical(x, k, n_symbols=n_symbols, transmat=transmat, method=method,
                                     random_state=seed, max_iter=100)
        return result, hmm.viterbi(x, result.params)[0], hmm.posterior_decode(x, result.params)
    return call


def missing_problem(rng):
    n, d = int(rng.integers(2, 40)), int(rng.integers(1, 5))
    X = random_matrix(rng, n, d)
    X[rng.random(X.shape) < rng.uniform(0, 0.6)] = np.nan
    reg_covar = float(rng.choice([0.0, 0.0, 1e-6]))

    def call():
        model = emtutor.MissingNormal(reg_covar=reg_covar, random_state=0).fit(X)
        return model, model.transform(X), model.score(X), model.sample_imputations(X, 2)
    return call


def lda_problem(rng):
    n_docs, n_words = int(rng.integers(1, 30)), int(rng.integers(1, 15))
    X = rng.poisson(rng.uniform(0, 3), (n_docs, n_words))
    if rng.random() < 0.2:
        X[: n_docs // 2] = 0  # empty documents
    if rng.random() < 0.1:
        X = X * int(rng.choice([10**6, 10**12]))  # huge counts
    k = int(rng.integers(1, 5))
    eta = rng.choice([None, 0.1])
    fit_alpha = bool(rng.random() < 0.3)
    seed = int(rng.integers(1 << 30))

    def call():
        model = emtutor.LatentDirichletAllocation(k, topic_word_prior=eta, fit_alpha=fit_alpha, random_state=seed,
                                                  max_iter=50).fit(X)
        return model, model.transform(X), model.score(X)
    return call


def coins_problem(rng):
    n = int(rng.integers(1, 30))
    tosses = rng.integers(1, 30, size=n)
    heads = rng.binomial(tosses, rng.uniform(0, 1, n))
    if rng.random() < 0.3:
        heads = np.where(rng.random(n) < 0.5, 0, tosses)  # all heads or all tails
    k = int(rng.integers(1, 4))
    seed = int(rng.integers(1 << 30))
    learn_weights = bool(rng.random() < 0.5)

    def call():
        return coins.fit(heads, tosses, k, learn_weights=learn_weights, random_state=seed)
    return call


def bernoulli_problem(rng):
    n, d = int(rng.integers(1, 60)), int(rng.integers(1, 12))
    X = (rng.random((n, d)) < rng.choice([0.01, 0.2, 0.5, 0.99])).astype(float)
    if rng.random() < 0.3:
        X = np.repeat(X[:1], n, axis=0)  # every row the same
    k = int(rng.integers(1, min(n, 5) + 1))
    seed = int(rng.integers(1 << 30))
    n_init = int(rng.integers(1, 3))

    def call():
        model = emtutor.BernoulliMixture(k, n_init=n_init, random_state=seed).fit(X)
        return model, model.predict_proba(X), model.score(X), model.bic(X)
    return call


def factor_problem(rng):
    n, d = int(rng.integers(2, 60)), int(rng.integers(2, 9))
    X = random_matrix(rng, n, d)
    q = int(rng.integers(1, d))
    seed = int(rng.integers(1 << 30))
    estimator = emtutor.FactorAnalysis if rng.random() < 0.5 else emtutor.ProbabilisticPCA

    def call():
        model = estimator(q, random_state=seed).fit(X)
        return model, model.transform(X), model.score(X), model.get_covariance()
    return call


def factor_missing_problem(rng):
    n, d = int(rng.integers(2, 60)), int(rng.integers(2, 9))
    X = random_matrix(rng, n, d)
    X[rng.random(X.shape) < rng.uniform(0, 0.6)] = np.nan
    q = int(rng.integers(1, d))
    seed = int(rng.integers(1 << 30))
    estimator = emtutor.FactorAnalysis if rng.random() < 0.5 else emtutor.ProbabilisticPCA

    def call():
        model = estimator(q, random_state=seed).fit(X)
        return model, model.transform(X), model.score_samples(X), model.get_covariance()
    return call


def tmix_problem(rng):
    n, d = int(rng.integers(2, 60)), int(rng.integers(1, 4))
    X = random_matrix(rng, n, d)
    k = int(rng.integers(1, 4))
    reg_covar = float(rng.choice([0.0, 1e-6, 1e-3]))
    nu_step = str(rng.choice(["ecm", "newton", "ecme", "fixed"]))
    dofs_init = rng.choice([None, 0.5, 30.0, np.inf])
    seed = int(rng.integers(1 << 30))
    X_new = random_matrix(rng, int(rng.integers(1, 5)), d)

    def call():
        model = emtutor.StudentTMixture(k, reg_covar=reg_covar, nu_step=nu_step, dofs_init=dofs_init, n_init=2,
                                        random_state=seed, max_iter=100).fit(X)
        # dofs_ may be inf (a normal component): checked for being positive
        return ({name: value for name, value in vars(model).items() if name.endswith("_") and name not in
                 ("dofs_", "params_", "history_")}, model.dofs_ > 0, model.predict_proba(X_new),
                model.predict(X_new), model.score_samples(X_new), model.bic(X), model.sample(3)[0])
    return call


def online_problem(rng):
    n, d = int(rng.integers(2, 60)), int(rng.integers(1, 4))
    X = random_matrix(rng, n, d)
    k = int(rng.integers(1, 4))
    covariance_type = str(rng.choice(["full", "diag", "spherical", "tied"]))
    reg_covar = float(rng.choice([0.0, 1e-6, 1e-3]))
    n_blocks = int(rng.integers(1, n + 1))
    batch_size = int(rng.integers(1, n + 1))
    decay, offset = float(rng.uniform(0.51, 1.0)), float(rng.choice([0.0, 1.0, 10.0]))
    seed = int(rng.integers(1 << 30))
    counts = rng.poisson(rng.uniform(0, 3), (int(rng.integers(1, 20)), int(rng.integers(1, 10))))
    eta = rng.choice([None, 0.1])

    def call():
        model = emtutor.GaussianMixture(k, covariance_type=covariance_type, reg_covar=reg_covar, random_state=seed,
                                        learning_decay=decay, learning_offset=offset)
        for start in range(0, n, batch_size):
            model.partial_fit(X[start : start + batch_size])
        topics = emtutor.LatentDirichletAllocation(2, topic_word_prior=eta, batch_size=batch_size, random_state=seed,
                                                   learning_decay=decay, learning_offset=offset).partial_fit(counts)
        return (online.fit_incremental(X, k, n_blocks=n_blocks, covariance_type=covariance_type,
                                       reg_covar=reg_covar, random_state=seed, max_iter=50),
                online.fit_stochastic(X, k, batch_size=batch_size, n_epochs=2, covariance_type=covariance_type,
                                      reg_covar=reg_covar, learning_decay=decay, learning_offset=offset,
                                      random_state=seed),
                model, model.score_samples(X), topics, topics.transform(counts))
    return call


PROBLEMS = {
    "gmm": gmm_problem,
    "factor": factor_problem,
    "factor_missing": factor_missing_problem,
    "bernoulli": bernoulli_problem,
    "tmix": tmix_problem,
    "hmm_gaussian": hmm_gaussian_problem,
    "hmm_categorical": hmm_categorical_problem,
    "missing": missing_problem,
    "lda": lda_problem,
    "coins": coins_problem,
    "online": online_problem,
}

#: Each model's number in the seeds of its problems.  Fixed, not the position
#: in a sorted list, so a new model does not change the problems of the others
#: (the regression cases in tests/test_fuzz.py name (model, seed) pairs).
MODEL_NUMBERS = {"coins": 0, "gmm": 1, "hmm_categorical": 2, "hmm_gaussian": 3, "lda": 4, "missing": 5,
                 "bernoulli": 6, "factor": 7, "tmix": 8, "online": 9, "factor_missing": 10}


def problem_rng(model: str, seed: int) -> np.random.Generator:
    """The generator of problem ``seed`` of ``model`` (the fuzz script's and the tests')."""
    return np.random.default_rng([seed, MODEL_NUMBERS[model], 16])


# ----------------------------------------------------------------- bad arguments

_X = np.random.default_rng(0).normal(size=(30, 2))
_SYM = np.array([0, 1, 2, 1, 0, 2, 1, 1, 0, 2])
_COUNTS = np.random.default_rng(1).integers(0, 5, (12, 6))
_GMM_PARAMS = gmm.GMMParams(np.array([0.5, 0.5]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
_COIN_DATA = coins.as_coin_data([3, 5, 9], 10)
_COIN_PARAMS = coins.CoinParams(np.array([0.5, 0.5]), np.array([0.3, 0.7]))
_NAN_ROW = np.array([[np.nan, 0.0], [1.0, 1.0], [2.0, 0.5]])
_STATES = np.array([0.5, 0.5])
_X3 = np.random.default_rng(3).normal(size=(30, 3))
_BINARY = (np.random.default_rng(2).random((20, 4)) < 0.5).astype(float)
_BERN_PARAMS = bernoulli.BernoulliParams(np.array([0.5, 0.5]), np.full((2, 4), 0.5))

#: Bad values a setting of each kind may get.
BAD_VALUES = {
    "tol": [-1.0, np.nan, np.inf, "1e-3", None, [1e-3]],
    "max_iter": [0, -3, 2.5, "10", None, True],
    "n_components": [0, -1, 2.5, "2", None],
    "reg_covar": [-1.0, np.nan, np.inf, "0.1", None],
    "n_init": [0, 1.5, "1"],
    "covariance_type": ["bogus", 3, None],
    "init": ["bogus", 1],
    "method": ["bogus", 1],
    "random_state": ["seed", 1.5, [1, 2, "x"]],
    "X": [[], [[]], [[np.inf, 0.0]] * 5, np.ones((3, 2, 2)), [["a", "b"]] * 5, np.array([[1 + 1j, 0]] * 5)],
}


def invalid_cases():
    """(id, call, the argument name the error must mention) for every public entry point."""
    cases = [
        # the examples
        ("fit_categorical emissionprob 1-D", lambda: hmm.fit_categorical(_SYM, 2, emissionprob=np.full(3, 1 / 3)),
         "emissionprob"),
        ("fit_categorical startprob 3 states", lambda: hmm.fit_categorical(_SYM, 2, startprob=np.full(3, 1 / 3)),
         "startprob"),
        ("check_params startprob 3 states", lambda: hmm.log_likelihood(_SYM, hmm.CategoricalHMMParams(
            np.full(3, 1 / 3), np.full((2, 2), 0.5), np.full((2, 3), 1 / 3))), "startprob"),
        ("lda alpha wrong length", lambda: lda.fit(_COUNTS, 3, alpha=np.ones(2)), "alpha"),
        ("lda max_e_step_iter 0", lambda: lda.fit(_COUNTS, 2, max_e_step_iter=0), "max_e_step_iter"),
        ("kmeans_plusplus 0", lambda: gmm.kmeans_plusplus(_X, 0), "n_components"),
        ("gmm complex X", lambda: gmm.fit(_X + 1j, 2), "X"),
        ("gmm.e_step NaN", lambda: gmm.e_step(_NAN_ROW, _GMM_PARAMS), "X"),
        ("gmm.m_step NaN", lambda: gmm.m_step(_NAN_ROW, np.full((3, 2), 0.5)), "X"),
        ("gmm.m_step NaN resp", lambda: gmm.m_step(_X[:3], np.array([[np.nan, 1], [0.5, 0.5], [1, 0]])), "resp"),
        ("coins.e_step NaN", lambda: coins.e_step(coins.CoinData(np.array([np.nan, 3.0]), np.array([5.0, 5.0])),
                                                  _COIN_PARAMS), "heads"),
        ("coins.e_step not CoinData", lambda: coins.e_step(np.array([[3, 5]]), _COIN_PARAMS), "data"),
        ("forward_backward empty", lambda: hmm_core.forward_backward(np.zeros((0, 2)), _STATES, np.eye(2)),
         "frame_loglik"),
        ("viterbi empty", lambda: hmm_core.viterbi(np.zeros((0, 2)), _STATES, np.eye(2)), "frame_loglik"),
        ("forward_backward NaN", lambda: hmm_core.forward_backward(np.full((3, 2), np.nan), _STATES, np.eye(2)),
         "frame_loglik"),
        ("bernoulli non-binary X", lambda: bernoulli.fit(_X, 2), "X"),
        ("bernoulli.e_step means shape", lambda: bernoulli.log_likelihood(_BINARY, bernoulli.BernoulliParams(
            np.array([0.5, 0.5]), np.full((2, 3), 0.5))), "means"),
        ("bernoulli.log_likelihood NaN X", lambda: bernoulli.log_likelihood(np.full((2, 4), np.nan), _BERN_PARAMS),
         "X"),
        ("BernoulliMixture sparse", lambda: emtutor.BernoulliMixture(2).fit(__import__("scipy.sparse").sparse
                                                                            .csr_matrix(_BINARY)), "sparse"),
        ("factor n_factors 3 of 3", lambda: factor.fit(_X3, 3), "n_factors"),
        ("FactorAnalysis n_factors 0", lambda: emtutor.FactorAnalysis(0).fit(_X3), "n_factors"),
        ("factor noise bogus", lambda: factor.fit(_X3, 1, noise="full"), "noise"),
        ("factor.log_density components shape", lambda: factor.log_density(_X3, factor.FactorParams(
            np.zeros(3), np.ones((1, 2)), np.ones(3))), "components"),
        ("viterbi transmat shape", lambda: hmm_core.viterbi(np.zeros((3, 2)), _STATES, np.eye(3)), "transmat"),
    ]
    settings = {
        "gmm.fit": (lambda **kw: gmm.fit(kw.pop("X", _X), kw.pop("n_components", 2), **kw),
                    ["X", "n_components", "tol", "max_iter", "reg_covar", "n_init", "covariance_type", "init",
                     "random_state"]),
        "GaussianMixture": (lambda **kw: emtutor.GaussianMixture(**{"n_components": 2, **_settings(kw)}).fit(
            kw.get("X", _X)), ["X", "n_components", "tol", "max_iter", "reg_covar", "n_init", "covariance_type",
                                "init", "random_state"]),
        "tmix.fit": (lambda **kw: tmix.fit(kw.pop("X", _X), kw.pop("n_components", 2), **kw),
                     ["X", "n_components", "tol", "max_iter", "reg_covar", "n_init", "init", "random_state"]),
        "StudentTMixture": (lambda **kw: emtutor.StudentTMixture(**{"n_components": 2, **_settings(kw)}).fit(
            kw.get("X", _X)), ["X", "n_components", "tol", "max_iter", "reg_covar", "n_init", "init",
                                "random_state"]),
        "hmm.fit_gaussian": (lambda **kw: hmm.fit_gaussian(kw.pop("X", _X), kw.pop("n_components", 2), **kw),
                             ["X", "n_components", "tol", "max_iter", "reg_covar", "covariance_type", "init",
                              "method", "random_state"]),
        "hmm.fit_categorical": (lambda **kw: hmm.fit_categorical(_SYM, kw.pop("n_components", 2), **kw),
                                ["n_components", "tol", "max_iter", "method", "random_state"]),
        "missing.fit": (lambda **kw: missing.fit(kw.pop("X", _X), **kw), ["X", "tol", "max_iter", "reg_covar"]),
        "MissingNormal": (lambda **kw: emtutor.MissingNormal(**_settings(kw)).fit(
            kw.get("X", _X)), ["X", "tol", "max_iter", "reg_covar"]),
        "lda.fit": (lambda **kw: lda.fit(_COUNTS, kw.pop("n_components", 2), **kw),
                    ["n_components", "tol", "max_iter", "random_state"]),
        "coins.fit": (lambda **kw: coins.fit([3, 5, 9], 10, kw.pop("n_components", 2), **kw),
                      ["n_components", "tol", "max_iter", "random_state"]),
        "bernoulli.fit": (lambda **kw: bernoulli.fit(kw.pop("X", _BINARY), kw.pop("n_components", 2), **kw),
                          ["X", "n_components", "tol", "max_iter", "n_init", "random_state"]),
        "BernoulliMixture": (lambda **kw: emtutor.BernoulliMixture(**{"n_components": 2, **_settings(kw)}).fit(
            kw.get("X", _BINARY)), ["X", "n_components", "tol", "max_iter", "n_init", "random_state"]),
        "factor.fit": (lambda **kw: factor.fit(kw.pop("X", _X3), kw.pop("n_components", 1), **kw),
                       ["X", "tol", "max_iter", "random_state"]),
        "FactorAnalysis": (lambda **kw: emtutor.FactorAnalysis(**_settings(kw)).fit(kw.get("X", _X3)),
                           ["X", "tol", "max_iter", "random_state"]),
        "ProbabilisticPCA": (lambda **kw: emtutor.ProbabilisticPCA(**_settings(kw)).fit(kw.get("X", _X3)),
                             ["X", "tol", "max_iter", "random_state"]),
        "kmeans_plusplus": (lambda **kw: gmm.kmeans_plusplus(kw.pop("X", _X), kw.pop("n_components", 2), **kw),
                            ["X", "n_components", "random_state"]),
    }
    for function, (call, names) in settings.items():
        for name in names:
            for value in BAD_VALUES[name]:
                if function == "coins.fit" and name == "n_components" and value is None:
                    continue  # documented: the number of thetas, else 2
                cases.append((f"{function} {name}={value!r}"[:80], _bind(call, name, value), name))
    return cases


def _settings(kw):
    return {k: v for k, v in kw.items() if k != "X"}


def _bind(call, name, value):
    return lambda: call(**{name: value})
