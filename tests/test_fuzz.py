"""Fuzzing every public function and estimator with one rule (issue 16).

A call returns finite numbers, or it raises a ``ValueError``/``TypeError``;
for a bad argument, one whose message names that argument.  Never NaN or inf,
never an unrelated exception (IndexError, LinAlgError, ...), never a
``LikelihoodDecreaseError`` on valid input, never a warning other than
``ConvergenceWarning``, and never an invalid input silently accepted.

The problems come from ``tests/fuzz_problems.py``; hypothesis draws their
seeds and the extreme inputs below (deterministically: ``derandomize`` in
conftest.py, ``deadline=None``).  This is the small sample of the normal test
run; ``benchmarks/fuzz.py`` runs thousands of problems per model.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_problems import MODEL_NUMBERS, PROBLEMS, classify, invalid_cases, problem_rng

import emtutor
from emtutor import gmm, hmm, hmm_core, lda, missing

ALLOWED = {"ok", "value_error"}


@pytest.mark.parametrize("name, call, bad_name", invalid_cases(), ids=[c[0] for c in invalid_cases()])
def test_a_bad_argument_raises_an_error_that_names_it(name, call, bad_name):
    outcome, detail = classify(call, bad_name)
    assert outcome == "ok", f"{name}: {outcome}: {detail}"


@pytest.mark.parametrize("model", sorted(PROBLEMS))
@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_problems_give_finite_answers_or_a_value_error(model, seed):
    outcome, detail = classify(PROBLEMS[model](np.random.default_rng(seed)))
    assert outcome in ALLOWED, f"{model} seed {seed}: {outcome}: {detail}"


scales = st.integers(-300, 300).map(lambda e: 10.0**e)
shapes = st.tuples(st.integers(1, 12), st.integers(1, 3))
dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.float16])


@settings(max_examples=40)
@given(shape=shapes, scale=scales, dtype=dtypes, duplicated=st.booleans(), seed=st.integers(0, 1000),
       k=st.integers(1, 4), covariance_type=st.sampled_from(sorted(gmm.COVARIANCE_TYPES)))
def test_mixture_on_any_scale_dtype_and_degenerate_data(shape, scale, dtype, duplicated, seed, k, covariance_type):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=shape) * scale
    if duplicated:
        X[:] = X[0]
    with np.errstate(all="ignore"):  # int64 and float16 casts of 1e300 saturate or overflow: fine
        X = X.astype(dtype)

    def call():
        model = emtutor.GaussianMixture(k, covariance_type=covariance_type, random_state=seed).fit(X)
        return model, model.score_samples(X), model.predict_proba(X), model.bic(X)
    outcome, detail = classify(call)
    assert outcome in ALLOWED, f"{outcome}: {detail}"


@settings(max_examples=30)
@given(shape=st.tuples(st.integers(1, 15), st.integers(1, 4)), scale=scales, rate=st.floats(0, 0.9),
       seed=st.integers(0, 1000), reg_covar=st.sampled_from([0.0, 1e-6]))
def test_missing_data_with_any_pattern_and_scale(shape, scale, rate, seed, reg_covar):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1])) * scale
    X[rng.random(shape) < rate] = np.nan

    def call():
        model = emtutor.MissingNormal(reg_covar=reg_covar).fit(X)
        return model, model.transform(X), model.score_samples(X)
    outcome, detail = classify(call)
    assert outcome in ALLOWED, f"{outcome}: {detail}"


@settings(max_examples=30)
@given(n=st.integers(1, 8), k=st.integers(1, 3), seed=st.integers(0, 1000),
       method=st.sampled_from(["chunked", "scaled", "log"]),
       log_scale=st.sampled_from([1.0, 1e3, 1e300]))
def test_forward_backward_on_any_frame(n, k, seed, method, log_scale):
    rng = np.random.default_rng(seed)
    frame = rng.normal(size=(n, k)) * log_scale
    frame[rng.random((n, k)) < 0.3] = -np.inf
    transmat = rng.dirichlet(np.ones(k), size=k)
    transmat[rng.random((k, k)) < 0.3] = 0.0
    transmat[np.arange(k), rng.integers(k, size=k)] += 0.1
    transmat /= transmat.sum(axis=1, keepdims=True)
    startprob = rng.dirichlet(np.ones(k))
    outcome, detail = classify(lambda: (hmm_core.forward_backward(frame, startprob, transmat, method),
                                        hmm_core.viterbi(frame, startprob, transmat)))
    assert outcome in ALLOWED, f"{outcome}: {detail}"


@settings(max_examples=30)
@given(n_docs=st.integers(1, 10), n_words=st.integers(1, 8), k=st.integers(1, 4), seed=st.integers(0, 1000),
       big=st.sampled_from([1, 10**9]))
def test_lda_on_sparse_empty_or_huge_counts(n_docs, n_words, k, seed, big):
    rng = np.random.default_rng(seed)
    X = rng.poisson(0.5, (n_docs, n_words)) * big
    outcome, detail = classify(lambda: lda.fit(X, k, random_state=seed, max_iter=30))
    assert outcome in ALLOWED, f"{outcome}: {detail}"


@settings(max_examples=30)
@given(values=st.lists(st.one_of(st.integers(-3, 5), st.floats(allow_nan=True, allow_infinity=True)),
                       min_size=1, max_size=12),
       k=st.integers(1, 3))
def test_categorical_hmm_rejects_non_symbols_naming_x(values, k):
    x = np.array(values)
    valid = bool(np.all(np.isfinite(x)) and np.all(x >= 0) and np.all(x == np.round(x)))
    if valid:
        outcome, detail = classify(lambda: hmm.fit_categorical(x.astype(int), k, random_state=0))
        assert outcome in ALLOWED, f"{outcome}: {detail}"
    else:
        outcome, detail = classify(lambda: hmm.fit_categorical(x, k, random_state=0), "X")
        assert outcome == "ok", f"{outcome}: {detail}"


def test_missing_default_start_names_x_when_a_variance_underflows():
    X = np.array([[1e-300, 2.0], [3e-300, 1.0], [2e-300, np.nan], [np.nan, 5.0]])
    with pytest.raises(ValueError, match="column 0 of X have variance 0, below 1e-280"):
        missing.fit(X)
    # variances of 1e-318 are subnormal: EM on them went "downhill" by 0.025 (fuzz seed 440)
    with pytest.raises(ValueError, match="column 1 of X have variance .*e-3.., below 1e-280"):
        missing.fit(np.array([[1.0, 2e-159], [3.0, 1e-159], [2.0, np.nan], [np.nan, 5e-159]]))


@pytest.mark.parametrize("model, seed", [("hmm_gaussian", 826), ("hmm_gaussian", 469), ("missing", 440),
                                         ("gmm", 1135), ("gmm", 1426), ("gmm", 1720), ("online", 3),
                                         ("online", 271)])
def test_problems_the_large_fuzz_run_found(model, seed):
    # Seeds as benchmarks/fuzz.py numbers them.  826: data at 1e6, a state
    # at reg_covar; the regularised bound's traces carry the covariance's
    # rounding, which the check now allows for (it raised
    # LikelihoodDecreaseError).  The others: see the commit messages.
    rng = problem_rng(model, seed)
    outcome, detail = classify(PROBLEMS[model](rng))
    assert outcome in ALLOWED, f"{outcome}: {detail}"


@pytest.mark.parametrize("model", sorted(PROBLEMS))
def test_every_problem_is_a_call(model):
    """A problem that returns None would be 'classified' as the TypeError of calling it, a value_error."""
    assert callable(PROBLEMS[model](problem_rng(model, 0)))


def test_every_model_has_a_fixed_seed_number():
    assert set(MODEL_NUMBERS) == set(PROBLEMS) and len(set(MODEL_NUMBERS.values())) == len(MODEL_NUMBERS)
