"""Checkers for the assignment notebooks: one per graded function.

Each ``check_*`` function grades **one** function a student wrote. It builds
its own small problems (an ordinary one, points far from every component, one
component, unequal weights, a long sequence, rows with several values
missing, ...), calls the student's function on copies of them and compares
the result with ``emtutor``'s reference implementation. It returns quietly
when everything agrees; otherwise it raises :class:`AssertionError` with a
message that names the *most likely mistake*: the checker also computes what
each common mistake would produce (responsibilities not normalised,
covariance divided by ``N`` instead of ``N_k``, transposed transition
matrix, ...) and says which one the output matches. When none matches, the
message says which quantity differs on which case. Messages never show the
reference code or its outputs.

Every ``check_*`` function raises :class:`AssertionError` naming the likely
mistake and the case it showed up on (``NotImplementedError`` passes through
while the function is still the stub); the checks of the last part of each
assignment return a small summary of the run.

**No cascading.** Where the function being graded calls a function graded
elsewhere in the assignment (``e_step`` calling ``log_gaussian``,
``posteriors`` calling ``forward`` and ``backward``, ...), the checker makes
that name refer to the reference implementation while it runs, so a mistake
costs the points of the function that contains it and no others. The
``check_*_em`` functions of the last part of each assignment first re-run
every part's checker (the integration point needs every part right), then
run the student's functions together.

**Own work.** A function that calls ``emtutor``'s model code
(:mod:`emtutor.gmm`, :mod:`emtutor.hmm`, :mod:`emtutor.hmm_core`,
:mod:`emtutor.coins`, :mod:`emtutor.missing`, :mod:`emtutor.lda`,
:mod:`emtutor.information`, :mod:`emtutor.accelerate`, the estimators, ...), or refers to ``emtutor``, scikit-learn, hmmlearn or
``scipy.stats``, is told so and fails. Two mechanisms: the function's code
and the notebook helpers it calls are inspected for such references, and
while it runs every function of ``emtutor``'s model modules is replaced by a
trampoline that records any call made from outside ``emtutor``.

The student's functions are called with positional arguments (so any
argument names work) and with copies of the inputs. The graded functions:

Gaussian mixtures (:mod:`emtutor.gmm`):

- :func:`check_log_gaussian`: ``log_gaussian(X, mean, cov) -> (n,)``
- :func:`check_e_step`: ``e_step(X, weights, means, covariances) -> resp``
- :func:`check_log_likelihood`: ``log_likelihood(X, weights, means, covariances) -> float``
- :func:`check_m_step`: ``m_step(X, resp) -> (weights, means, covariances)``
- :func:`check_gmm_em`: the four together

The dishonest casino (:mod:`emtutor.hmm_core`; ``x`` holds symbols ``0..M-1``):

- :func:`check_forward`: ``forward(x, startprob, transmat, emissionprob) -> (alpha, scale)``
- :func:`check_backward`: ``backward(x, transmat, emissionprob, scale) -> beta``
- :func:`check_posteriors`: ``posteriors(x, startprob, transmat, emissionprob) -> (r, xi)``
- :func:`check_hmm_m_step`: ``m_step(x, r, xi, n_symbols) -> (startprob, transmat, emissionprob)``
- :func:`check_casino_em`: the four together

Two coins (:mod:`emtutor.coins`):

- :func:`check_coins_e_step`: ``coins_e_step(heads, tosses, weights, thetas) -> resp``
- :func:`check_coins_log_likelihood`: ``coins_log_likelihood(heads, tosses, weights, thetas) -> float``
- :func:`check_coins_m_step`: ``coins_m_step(heads, tosses, resp) -> thetas``
- :func:`check_coins_em`: the three together

Missing data (:mod:`emtutor.missing`; ``NaN`` marks a missing value):

- :func:`check_conditional_mean`: ``conditional_mean(x, mean, cov) -> x_hat``
- :func:`check_conditional_cov`: ``conditional_cov(x, mean, cov) -> C``
- :func:`check_missing_m_step`: ``m_step(X_hat, cov_correction) -> (mean, cov)``
- :func:`check_missing_log_likelihood`: ``log_likelihood(X, mean, cov) -> float``
- :func:`check_missing_em`: the four together

LDA's variational E-step (:mod:`emtutor.lda`):

- :func:`check_expected_log_pi`: ``expected_log_pi(gamma) -> (M, K)``
- :func:`check_update_phi`: ``update_phi(gamma, topics) -> phi`` of shape ``(M, V, K)``
- :func:`check_update_gamma`: ``update_gamma(X, phi, alpha) -> gamma``
- :func:`check_lda_e_step`: ``e_step(X, alpha, topics, n_sweeps) -> (gamma, phi)``
- :func:`check_lda_em`: the four together

Standard errors for the two coins (:mod:`emtutor.information`; the weights
are fixed, the parameters are the biases ``thetas``):

- :func:`check_complete_information`: ``complete_information(heads, tosses, resp, thetas) -> I_com``
- :func:`check_missing_information`: ``missing_information(heads, tosses, resp, thetas) -> I_mis``
- :func:`check_rate_matrix`: ``rate_matrix(em_map, thetas, h) -> DM``
- :func:`check_bootstrap_standard_errors`: ``bootstrap_standard_errors(heads, tosses, fit, n_boot, random_state) -> se``
- :func:`check_coins_standard_errors`: the four together
"""

from __future__ import annotations

import contextlib
import dis
import functools
import importlib
import inspect
import sys
import types
import warnings
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import digamma, gammaln, logsumexp, softmax, xlogy

from . import coins, datasets, gmm, hmm, hmm_core, information, lda, missing
from .em import run_em

__all__ = [
    "check_log_gaussian",
    "check_e_step",
    "check_log_likelihood",
    "check_m_step",
    "check_gmm_em",
    "check_forward",
    "check_backward",
    "check_posteriors",
    "check_hmm_m_step",
    "check_casino_em",
    "check_coins_e_step",
    "check_coins_log_likelihood",
    "check_coins_m_step",
    "check_coins_em",
    "check_conditional_mean",
    "check_conditional_cov",
    "check_missing_m_step",
    "check_missing_log_likelihood",
    "check_missing_em",
    "check_expected_log_pi",
    "check_update_phi",
    "check_update_gamma",
    "check_lda_e_step",
    "check_lda_em",
    "GMMRun",
    "CasinoRun",
    "CoinsRun",
    "MissingRun",
    "LDARun",
    "check_complete_information",
    "check_missing_information",
    "check_rate_matrix",
    "check_bootstrap_standard_errors",
    "check_coins_standard_errors",
    "StandardErrorsRun",
]

_RTOL = 1e-5
_ATOL = 1e-8
_LOG_2PI = np.log(2.0 * np.pi)

# ============================================================ own work

#: emtutor's modules whose functions compute what the assignments ask for.
_MODEL_MODULES = ("accelerate", "coins", "elbo", "em", "estimators", "gmm", "hmm", "hmm_core", "information", "lda",
                  "missing")
#: Modules a graded function must not use (prefixes of dotted module names).
_FORBIDDEN = ("emtutor", "sklearn", "hmmlearn", "scipy.stats")
#: Code flags of generator and coroutine functions, which the guard leaves alone.
_NOT_PLAIN = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE
_TRAMPOLINE = "def trampoline(*args, **kwargs):\n    return __emtutor_guard__({key!r}, args, kwargs)\n"


def _forbidden(module_name) -> bool:
    return isinstance(module_name, str) and any(
        module_name == p or module_name.startswith(p + ".") for p in _FORBIDDEN
    )


def _origin(obj) -> str | None:
    """Dotted name of what ``obj`` is (a module) or where it was defined."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        module = getattr(type(obj), "__module__", None)
    return module


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _imports(code) -> set:
    """Dotted names imported inside ``code`` (``import a.b``, ``from a import b``)."""
    names, module = set(), None
    for ins in dis.get_instructions(code):
        if ins.opname == "IMPORT_NAME":
            module = ins.argval
            names.add(module)
        elif ins.opname == "IMPORT_FROM" and module:
            names.add(f"{module}.{ins.argval}")
    return names


def _forbidden_references(fn, skip=()) -> list:
    """What ``fn`` (and the notebook helpers it calls) refers to in forbidden modules.

    ``skip`` names functions of the notebook that are graded on their own
    (they are replaced by the reference while ``fn`` is checked).
    """
    found, seen, todo = [], set(), [fn]
    while todo:
        f = todo.pop()
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen:
            continue
        seen.add(id(f))
        scope = getattr(f, "__globals__", {})
        for c in _code_objects(code):
            for name in sorted(_imports(c)):
                if _forbidden(name):
                    found.append(name)
            names = set(c.co_names)
            for name in sorted(names):
                if name in skip or name not in scope:
                    continue
                obj = scope[name]
                origin = _origin(obj)
                if _forbidden(origin):
                    label = origin if isinstance(obj, types.ModuleType) else f"{origin}.{getattr(obj, '__name__', name)}"
                    found.append(label)
                    continue
                if isinstance(obj, types.ModuleType):
                    # attribute chains such as scipy.stats or emtutor.gmm.e_step
                    for attr in sorted(names):
                        sub = getattr(obj, attr, None)
                        if sub is not None and _forbidden(_origin(sub)):
                            found.append(f"{obj.__name__}.{attr}")
                elif isinstance(obj, types.FunctionType) and obj.__globals__ is scope:
                    todo.append(obj)  # a helper defined in the notebook
    return sorted(set(found))


class _Guard:
    """Replaces the code of every function of emtutor's model modules by a trampoline.

    The trampoline calls the original; a call whose caller is not emtutor's
    own code (the student's function, a lambda in the notebook, ...) is
    recorded in :attr:`calls`.
    """

    _cache: dict = {}

    def __init__(self):
        self.calls = []

    @classmethod
    def _targets(cls):
        if not cls._cache:
            for short in _MODEL_MODULES:
                module = importlib.import_module(f"emtutor.{short}")
                functions = []
                for obj in vars(module).values():
                    candidates = [obj]
                    if isinstance(obj, type) and obj.__module__ == module.__name__:
                        candidates = list(vars(obj).values())
                    for f in candidates:
                        # Plain functions only: a generator's code cannot be
                        # swapped for the trampoline's (Python 3.13 deprecates
                        # it, and the generator would no longer be one).
                        if (isinstance(f, types.FunctionType) and f.__globals__ is vars(module)
                                and not f.__code__.co_freevars
                                and not f.__code__.co_flags & _NOT_PLAIN):
                            functions.append(f)
                entries = []
                for f in functions:
                    key = f"{module.__name__}.{f.__qualname__}"
                    original = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__)
                    original.__kwdefaults__ = f.__kwdefaults__
                    namespace = {}
                    exec(compile(_TRAMPOLINE.format(key=key), key, "exec"), namespace)  # noqa: S102
                    entries.append((f, f.__code__, namespace["trampoline"].__code__, key, original))
                cls._cache[module] = entries
        return cls._cache

    def __enter__(self):
        originals = {}

        def guard(key, args, kwargs):
            caller = sys._getframe(2).f_globals.get("__name__", "")
            if caller != "emtutor" and not caller.startswith("emtutor."):
                self.calls.append(key)
            return originals[key](*args, **kwargs)

        self._patched = []
        try:
            for module, entries in self._targets().items():
                module.__dict__["__emtutor_guard__"] = guard
                for f, code, trampoline, key, original in entries:
                    originals[key] = original
                    f.__code__ = trampoline
                    self._patched.append((f, code))
        except BaseException:
            self.__exit__(None, None, None)  # never leave emtutor half patched
            raise
        return self

    def __exit__(self, *exc):
        for f, code in self._patched:
            f.__code__ = code
        for module in self._targets():
            module.__dict__.pop("__emtutor_guard__", None)
        return False


def _delegation_message(fn_name, what) -> str:
    return (
        f"{fn_name} uses {what}, emtutor's own implementation (or a library that does the "
        "work). The assignment asks you to write it yourself with NumPy (and scipy.special); "
        "a function that delegates gets no credit"
    )


def _own_work(fn: Callable, fn_name: str, uses=()) -> None:
    """Fail if ``fn`` refers to a forbidden module (before it is even run)."""
    if not callable(fn):
        raise AssertionError(f"{fn_name} must be a function, got {type(fn).__name__}")
    found = _forbidden_references(fn, skip=tuple(uses))
    if found:
        raise AssertionError(_delegation_message(fn_name, ", ".join(found)))


@contextlib.contextmanager
def _substituted(fn, uses: dict):
    """Make the names in ``uses`` refer to the reference implementations inside ``fn``."""
    scope = getattr(fn, "__globals__", None)
    saved = {}
    if scope is not None:
        for name, reference in uses.items():
            if name in scope:
                saved[name] = scope[name]
                scope[name] = reference
    try:
        yield
    finally:
        for name, value in saved.items():
            scope[name] = value


def _call(fn: Callable, fn_name: str, case: str, *args, uses=None):
    """Call the student's function on copies of ``args``: guarded, with references substituted."""
    args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    guard = _Guard()
    try:
        # NaN from 0/0 is diagnosed from the output; NumPy's warnings would only add noise
        with np.errstate(all="ignore"), warnings.catch_warnings(), _substituted(fn, uses or {}), guard:
            warnings.simplefilter("ignore", RuntimeWarning)
            out = fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of the student's code is reported
        if guard.calls:
            raise AssertionError(_delegation_message(fn_name, guard.calls[0])) from None
        raise AssertionError(f"{fn_name} raised {type(exc).__name__}: {exc}  (case: {case})") from exc
    if guard.calls:
        raise AssertionError(_delegation_message(fn_name, guard.calls[0]))
    return out


def _checker(check: Callable) -> Callable:
    """A public checker: its failures reach the notebook with a short traceback.

    The error is raised anew here, outside the ``except`` block, so the
    student's traceback is their test cell and this function: neither the
    checker's internals nor the reference calls it makes.
    """

    @functools.wraps(check)
    def checker(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except AssertionError as exc:
            error = AssertionError(str(exc))
        except NotImplementedError:
            names = [getattr(a, "__name__", "?") for a in args if callable(a)]
            which = names[0] if len(names) == 1 else "one of " + ", ".join(names)
            error = NotImplementedError(f"{which} still raises NotImplementedError: replace it with your code")
        raise error

    return checker


# ============================================================ comparing


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


def _compare(fn_name, what, got, expected, case, variants=(), shape_help="", shape_hints=()):
    """Pass if ``got`` matches ``expected``; else name the matching mistake or describe the gap.

    ``variants`` is a sequence of ``(hint, make)`` pairs; ``make()`` returns
    what that mistake would produce on this case (computed lazily; ``None``
    when it does not apply). ``shape_hints`` maps a wrong shape to a hint.
    """
    got = _as_array(got, fn_name, what, case)
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        hint = dict(shape_hints).get(got.shape)
        transposed = got.ndim >= 2 and got.shape == expected.shape[::-1]
        raise AssertionError(
            f"{fn_name}: {what} has shape {got.shape}, expected {expected.shape}{shape_help}"
            f"{' (transposed?)' if transposed and not hint else ''}"
            f"{'. Likely mistake: ' + hint if hint else ''}  (case: {case})"
        )
    if _close(got, expected):
        return
    for hint, make in variants:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
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


def _tuple(out, n: int, fn_name: str, names: str, case: str):
    if not isinstance(out, (tuple, list)) or len(out) != n:
        raise AssertionError(f"{fn_name} must return a tuple ({names})  (case: {case})")
    return out


def _scalar(value, fn_name: str, what: str, case: str, per: str = "point") -> np.ndarray:
    """``value`` as one number; an array (one value per ``per``) is a named mistake."""
    got = _as_array(value, fn_name, what, case)
    if got.size != 1:
        raise AssertionError(
            f"{fn_name} must return {what} as one number, got an array of shape {got.shape}. "
            f"Likely mistake: returned one value per {per}; sum them over the {per}s  (case: {case})"
        )
    return got.reshape(())


def _monotone(history, what="EM") -> np.ndarray:
    history = np.asarray(history, dtype=float)
    if np.any(np.diff(history) < -1e-10 * max(1.0, np.abs(history).max())):
        raise AssertionError(f"the log-likelihood went down during {what}, which EM never does")
    return history


def _not_finite(got, expected_shape) -> bool:
    got = np.asarray(got, dtype=float)
    return got.shape == expected_shape and not np.all(np.isfinite(got))


def _all_parts(parts) -> None:
    """Re-run every part's checker; the integration point needs every part right."""
    for checker, fn in parts:
        try:
            checker(fn)
        except NotImplementedError:
            raise
        except AssertionError as exc:
            raise AssertionError(
                f"this point needs every part right, and {checker.__name__} fails: {exc}"
            ) from None


def _spd(rng, d, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.3 * np.eye(d))


def _rows(m):
    return m / m.sum(axis=-1, keepdims=True)


# ============================================================ Gaussian mixtures


def _ref_log_gaussian(X, mean, cov):
    """Reference ``log N(x_n | mean, cov)`` for the rows of ``X``."""
    X = np.asarray(X, dtype=float)
    return gmm.log_gaussian_density(X, np.asarray(mean, float)[None], np.asarray(cov, float)[None])[:, 0]


def _log_gaussian_with(X, mean, cov, *, quad=1.0, logdet=1.0, const=1.0, inverse=True, centre=True):
    """A log density with one factor changed (the mistakes' outputs)."""
    d = X.shape[1]
    diff = X - mean if centre else X
    maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov) if inverse else cov, diff)
    return -0.5 * (const * d * _LOG_2PI + logdet * np.linalg.slogdet(cov)[1]) - 0.5 * quad * maha


def _log_gaussian_cases():
    rng = np.random.default_rng(0)
    cov3 = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    X3 = rng.normal(size=(6, 3)) + [1.0, -1.0, 0.5]
    far = np.vstack([X3[:2], [[1000.0, 0.0, 0.0], [0.0, -700.0, 300.0]]])
    d = 50
    small = 1e-7 * (np.eye(d) + 0.1 * np.ones((d, d)))
    X50 = rng.normal(size=(4, d)) * 3e-4
    return [
        ("3 features, correlated covariance", X3, np.array([1.0, -1.0, 0.5]), cov3),
        ("one feature", rng.normal(size=(5, 1)), np.array([0.5]), np.array([[2.5]])),
        ("points far from the mean (1000 units)", far, np.zeros(3), cov3),
        ("50 features with variances 1e-7 (the determinant underflows)", X50, np.zeros(d), small),
    ]


_SLOGDET_HINT = (
    "the determinant is computed with np.linalg.det, which underflows to 0 (or overflows) in "
    "many dimensions; use the log-determinant np.linalg.slogdet(cov)[1]"
)


@_checker
def check_log_gaussian(log_gaussian: Callable) -> None:
    """Check ``log_gaussian(X, mean, cov)``: ``log N(x_n | mean, cov)`` for every row of ``X``.

    The reference is :func:`emtutor.gmm.log_gaussian_density`
    (:eq:`gaussian-log-density`); the result has shape ``(n,)``.
    """
    name = "log_gaussian"
    _own_work(log_gaussian, name)
    for case, X, mean, cov in _log_gaussian_cases():
        got = _as_array(_call(log_gaussian, name, case, X, mean, cov), name, "the log density", case)
        expected = _ref_log_gaussian(X, mean, cov)
        n = len(X)
        if case.startswith("50 features") and _not_finite(got, expected.shape):
            raise AssertionError(f"{name}: the log density is not finite. Likely mistake: {_SLOGDET_HINT}  (case: {case})")
        if case.startswith("points far") and got.shape == expected.shape and np.any(got[2:] == -np.inf):
            raise AssertionError(
                f"{name}: the log density is -inf far from the mean. Likely mistake: the density is "
                f"computed first and its log taken afterwards; compute the log density directly  (case: {case})"
            )
        _compare(name, "the log density", got, expected, case, [
            ("the -1/2 log det(Sigma) term is missing", lambda: _log_gaussian_with(X, mean, cov, logdet=0.0)),
            ("the log det(Sigma) term is not halved: it is -1/2 log det(Sigma)",
             lambda: _log_gaussian_with(X, mean, cov, logdet=2.0)),
            ("the -d/2 log(2 pi) term is missing", lambda: _log_gaussian_with(X, mean, cov, const=0.0)),
            ("the quadratic form is not halved: it is -1/2 (x - mu)^T Sigma^{-1} (x - mu)",
             lambda: _log_gaussian_with(X, mean, cov, quad=2.0)),
            ("the quadratic form has the wrong sign: it is -1/2 (x - mu)^T Sigma^{-1} (x - mu)",
             lambda: _log_gaussian_with(X, mean, cov, quad=-1.0)),
            ("the quadratic form uses the covariance where it needs its inverse: "
             "(x - mu)^T Sigma^{-1} (x - mu), e.g. with np.linalg.solve(cov, diff.T)",
             lambda: _log_gaussian_with(X, mean, cov, inverse=False)),
            ("the mean is not subtracted: the quadratic form is in x_n - mu",
             lambda: _log_gaussian_with(X, mean, cov, centre=False)),
            ("returned the density itself; the function returns its logarithm", lambda: np.exp(expected)),
        ], " = (n,): one number per row of X", shape_hints=[(
            (n, n), "the quadratic form was computed for every pair of points (diff @ inv @ diff.T "
                    "is n x n); keep only one number per point, e.g. np.sum(diff * np.linalg.solve(cov, diff.T).T, axis=1)"
        )])


def _gmm_cases():
    """(name, X, weights, means, covariances) for the E-step and log-likelihood checks."""
    rng = np.random.default_rng(1)
    means = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]])
    covs = np.stack([_spd(rng, 2, s) for s in (0.5, 1.0, 2.0)])
    X = rng.normal(size=(40, 2)) * 1.5 + [0.0, 1.0]
    X1 = rng.normal(size=(25, 1)) * 2.0
    far = np.vstack([X[:5], [[1000.0, -800.0], [-900.0, 1200.0], [700.0, 700.0]]])
    return [
        ("ordinary: 40 points, 3 components, equal weights", X, np.full(3, 1 / 3), means, covs),
        ("unequal weights", X, np.array([0.6, 0.3, 0.1]), means, covs),
        ("one component", X, np.array([1.0]), means[:1], covs[:1]),
        ("one feature, 2 components", X1, np.array([0.25, 0.75]), np.array([[-1.0], [1.5]]),
         np.array([[[0.5]], [[2.0]]])),
        ("far-away points (1000 units from every mean)", far, np.array([0.5, 0.3, 0.2]), means, covs),
    ]


def _log_weighted(X, weights, means, covs):
    """``l[n, k] = log pi_k + log N(x_n | mu_k, Sigma_k)``."""
    with np.errstate(divide="ignore"):
        return np.log(weights) + gmm.log_gaussian_density(X, means, covs)


_LOG_SPACE_HINT = (
    "the densities are computed without log space: far from every component each density "
    "underflows to 0, and 0/0 gives NaN. Add the log weights and the log densities, and "
    "normalise with scipy.special.logsumexp"
)


@_checker
def check_e_step(e_step: Callable) -> None:
    """Check a Gaussian mixture's E-step ``e_step(X, weights, means, covariances) -> resp``.

    ``resp[n, k]`` is the responsibility :math:`r_{nk}` of :eq:`gmm-e-step`,
    shape ``(n, K)``, rows summing to 1; the reference is
    :func:`emtutor.gmm.e_step`. While it runs, ``log_gaussian`` (if the
    E-step calls it) is the reference log density.
    """
    name = "e_step"
    uses = {"log_gaussian": _ref_log_gaussian}
    _own_work(e_step, name, uses)
    for case, X, weights, means, covs in _gmm_cases():
        got = _as_array(_call(e_step, name, case, X, weights, means, covs, uses=uses), name, "resp", case)
        ell = _log_weighted(X, weights, means, covs)
        expected = softmax(ell, axis=1)
        if case.startswith("far") and got.shape == expected.shape and (
            not np.all(np.isfinite(got)) or np.any(got.sum(axis=1) == 0)
        ):
            raise AssertionError(f"{name}: resp has NaN or all-zero rows. Likely mistake: {_LOG_SPACE_HINT}  (case: {case})")
        log_dens = ell - np.log(weights)
        logdet = np.linalg.slogdet(covs)[1]
        _compare(name, "resp", got, expected, case, [
            ("responsibilities not normalised across components: divide each row "
             "pi_k N(x_n | mu_k, Sigma_k) by its sum over k", lambda: np.exp(ell)),
            ("normalised over the points (axis 0) instead of over the components (axis 1)",
             lambda: softmax(ell, axis=0)),
            ("normalised over all entries at once; each row (each point) must sum to 1",
             lambda: np.exp(ell - logsumexp(ell))),
            ("forgot the mixing weights: r_nk is proportional to pi_k N(x_n | mu_k, Sigma_k)",
             lambda: softmax(log_dens, axis=1)),
            ("added the mixing weights themselves; in log space it is log pi_k + log N(x_n | mu_k, Sigma_k)",
             lambda: softmax(log_dens + weights, axis=1)),
            ("the Gaussian density lacks its normalising factor det(2 pi Sigma_k)^(-1/2), which "
             "differs between components", lambda: softmax(ell + 0.5 * logdet, axis=1)),
        ], " = (n, K): one row per point", shape_hints=[(
            expected.shape[::-1], "resp is transposed: one row per point, one column per component"
        )] if expected.shape[0] != expected.shape[1] else ())


@_checker
def check_log_likelihood(log_likelihood: Callable) -> None:
    """Check ``log_likelihood(X, weights, means, covariances) -> float``.

    The number is :math:`\\log p(X) = \\sum_n \\log \\sum_k \\pi_k
    \\mathcal{N}(x_n \\mid \\mu_k, \\Sigma_k)` (:eq:`gmm-log-likelihood`); the
    reference is :func:`emtutor.gmm.log_likelihood`. While it runs,
    ``log_gaussian`` is the reference log density.
    """
    name = "log_likelihood"
    uses = {"log_gaussian": _ref_log_gaussian}
    _own_work(log_likelihood, name, uses)
    for case, X, weights, means, covs in _gmm_cases():
        got = _call(log_likelihood, name, case, X, weights, means, covs, uses=uses)
        ell = _log_weighted(X, weights, means, covs)
        per_point = logsumexp(ell, axis=1)
        got = _scalar(got, name, "the log-likelihood", case, per="point")
        if case.startswith("far") and not np.isfinite(got):
            raise AssertionError(f"{name}: the log-likelihood is not finite. Likely mistake: {_LOG_SPACE_HINT}  (case: {case})")
        _compare(name, "the log-likelihood", got, per_point.sum(), case, [
            ("forgot the mixing weights: each point's term is log sum_k pi_k N(x_n | mu_k, Sigma_k)",
             lambda: logsumexp(ell - np.log(weights), axis=1).sum()),
            ("averaged over the points; the log-likelihood is the sum over the points",
             lambda: per_point.mean()),
            ("took the largest term max_k l_nk instead of the log of the sum (logsumexp over k)",
             lambda: ell.max(axis=1).sum()),
            ("summed log pi_k + log N(x_n | ...) over k (the log of a product); it is the log of the "
             "sum over k, logsumexp", lambda: ell.sum()),
        ])


def _m_step_cases():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(20, 2)) + [-2, 0], rng.normal(size=(25, 2)) * 0.7 + [2, 2]])
    hard = np.eye(2)[np.r_[np.zeros(20, int), np.ones(25, int)]]
    X1 = rng.normal(size=(30, 1)) * 3.0
    return [
        ("ordinary: 45 points, 3 components", X, rng.dirichlet(np.ones(3), size=len(X))),
        ("hard assignments (one-hot responsibilities)", X, hard),
        ("unequal component sizes", X, rng.dirichlet([8.0, 1.0, 0.5], size=len(X))),
        ("one component", X, np.ones((len(X), 1))),
        ("one feature, 2 components", X1, rng.dirichlet([1.0, 2.0], size=30)),
    ]


def _scatter(X, resp, centres, counts):
    return np.stack([
        (resp[:, k] * (X - centres[k]).T) @ (X - centres[k]) / counts[k] for k in range(resp.shape[1])
    ])


def _np_cov_weighted(X, resp):
    return np.stack([np.cov(X, rowvar=False, aweights=resp[:, k]).reshape(X.shape[1], X.shape[1])
                     for k in range(resp.shape[1])])


@_checker
def check_m_step(m_step: Callable) -> None:
    """Check a Gaussian mixture's M-step ``m_step(X, resp) -> (weights, means, covariances)``.

    The reference is :func:`emtutor.gmm.m_step` without regularisation
    (:eq:`gmm-m-weights`, :eq:`gmm-m-means`, :eq:`gmm-m-covariances`).
    Shapes: ``(K,)``, ``(K, D)`` and ``(K, D, D)``.
    """
    name = "m_step"
    _own_work(m_step, name)
    for case, X, resp in _m_step_cases():
        out = _tuple(_call(m_step, name, case, X, resp), 3, name, "weights, means, covariances", case)
        weights, means, covs = out
        ref = gmm.m_step(X, resp)
        n, K = resp.shape
        counts = resp.sum(axis=0)
        _compare(name, "weights", weights, ref.weights, case, [
            ("mixing weights not divided by N: pi_k = N_k / N, which sum to 1", lambda: counts),
            ("mixing weights divided by K instead of N: pi_k = N_k / N", lambda: counts / K),
        ], " = (K,)")
        _compare(name, "means", means, ref.means, case, [
            ("means divided by N instead of N_k: mu_k = sum_n r_nk x_n / N_k", lambda: resp.T @ X / n),
            ("means not weighted by the responsibilities", lambda: np.repeat(X.mean(axis=0)[None], K, 0)),
        ], " = (K, D)")
        scatter = ref.covariances * counts[:, None, None]
        _compare(name, "covariances", covs, ref.covariances, case, [
            ("covariance divided by N instead of N_k", lambda: scatter / n),
            ("covariance not divided by N_k (the weighted scatter itself)", lambda: scatter),
            ("covariance around the old centre 0 instead of the new mean (forgot to centre x_n - mu_k)",
             lambda: _scatter(X, resp, np.zeros_like(ref.means), counts)),
            ("covariance not weighted by the responsibilities: Sigma_k = sum_n r_nk (x_n - mu_k)"
             "(x_n - mu_k)^T / N_k", lambda: _scatter(X, np.ones_like(resp), ref.means, np.full(K, n))),
            ("np.cov with aweights makes an unbiased correction; the M-step is the maximum-likelihood "
             "estimate, divided by N_k (np.cov(..., aweights=..., bias=True))", lambda: _np_cov_weighted(X, resp)),
            ("kept only the variances (the diagonal); the M-step estimates the full covariance",
             lambda: ref.covariances * np.eye(X.shape[1])),
        ], " = (K, D, D)")


class GMMRun(NamedTuple):
    """What :func:`check_gmm_em` returns: the run of the student's EM.

    Attributes
    ----------
    log_likelihoods : ndarray of shape (n_iter + 1,)
        From the student's ``log_likelihood``, before the first iteration and after each.
    weights, means, covariances : ndarray
        The parameters after the last iteration.
    """

    log_likelihoods: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


@_checker
def check_gmm_em(log_gaussian: Callable, e_step: Callable, log_likelihood: Callable, m_step: Callable,
                 n_iter: int = 30) -> GMMRun:
    """Check the four mixture functions together: EM on the three-Gaussian example.

    Re-runs :func:`check_log_gaussian`, :func:`check_e_step`,
    :func:`check_log_likelihood` and :func:`check_m_step` (this point needs
    every part right), then runs ``n_iter`` EM iterations with the student's
    functions from :func:`emtutor.datasets.three_gaussians_init` and checks
    that the log-likelihood never decreases (:eq:`em-e-step`,
    :eq:`em-m-step`) and that every parameter agrees with emtutor's EM from
    the same start.

    Returns
    -------
    GMMRun
    """
    _all_parts([(check_log_gaussian, log_gaussian), (check_e_step, e_step),
                (check_log_likelihood, log_likelihood), (check_m_step, m_step)])
    X, weights, means, covs = datasets.three_gaussians_init()
    reference = gmm.GMMParams(weights, means, covs)
    case = "three Gaussians, 300 points"
    history = [float(_call(log_likelihood, "log_likelihood", case, X, weights, means, covs))]
    for _ in range(n_iter):
        resp = _call(e_step, "e_step", case, X, weights, means, covs)
        weights, means, covs = _call(m_step, "m_step", case, X, resp)
        history.append(float(_call(log_likelihood, "log_likelihood", case, X, weights, means, covs)))
        reference = gmm.m_step(X, gmm.e_step(X, reference)[0])
    history = _monotone(history)
    for what, got, expected in [("weights", weights, reference.weights), ("means", means, reference.means),
                                ("covariances", covs, reference.covariances)]:
        _compare("EM", f"the {what} after {n_iter} iterations", got, expected, case)
    return GMMRun(history, np.asarray(weights), np.asarray(means), np.asarray(covs))


# ============================================================ the dishonest casino

_CASINO = (
    np.array([0.5, 0.5]),
    np.array([[0.95, 0.05], [0.10, 0.90]]),
    np.array([[1 / 6] * 6, [1 / 10] * 5 + [1 / 2]]),
)
_THREE_STATES = (
    np.array([0.6, 0.3, 0.1]),
    np.array([[0.7, 0.2, 0.1], [0.05, 0.8, 0.15], [0.3, 0.1, 0.6]]),
    np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.1, 0.2, 0.6], [0.25, 0.25, 0.4, 0.1]]),
)


def _hmm_cases(single=True):
    """(name, x, startprob, transmat, emissionprob) for the casino checks."""
    rng = np.random.default_rng(3)
    sample = lambda params, n: hmm.sample(hmm.CategoricalHMMParams(*params), n, random_state=rng)[0]  # noqa: E731
    cases = [
        ("casino, 60 rolls", sample(_CASINO, 60), *_CASINO),
        ("3 states, 4 symbols, 40 steps", sample(_THREE_STATES, 40), *_THREE_STATES),
    ]
    if single:
        cases.append(("a single roll", np.array([5]), *_CASINO))
    cases.append(("casino, 1000 rolls (long sequence)", sample(_CASINO, 1000), *_CASINO))
    return cases


def _frame(x, emissionprob):
    with np.errstate(divide="ignore"):
        return np.log(emissionprob).T[x]


def _ref_forward(x, startprob, transmat, emissionprob):
    """Reference scaled forward pass: ``(alpha, scale)`` (:func:`emtutor.hmm_core.forward`)."""
    alpha, log_scale = hmm_core.forward(_frame(np.asarray(x), emissionprob), startprob, transmat)
    return alpha, np.exp(log_scale)


def _ref_backward(x, transmat, emissionprob, scale):
    """Reference scaled backward pass (:func:`emtutor.hmm_core.backward`)."""
    return hmm_core.backward(_frame(np.asarray(x), emissionprob), transmat, np.log(scale))


def _xi(x, transmat, emissionprob, alpha, beta, scale):
    """``xi[t, i, j] = alpha_t(i) A_ij B_{j, x_{t+1}} beta_{t+1}(j) / c_{t+1}`` (:eq:`hmm-xi`)."""
    right = emissionprob.T[x[1:]] * beta[1:] / scale[1:, None]
    return alpha[:-1, :, None] * transmat[None] * right[:, None, :]


def _ref_posteriors(x, startprob, transmat, emissionprob):
    """Reference ``(r, xi)``: state and pair posteriors from the scaled passes."""
    alpha, scale = _ref_forward(x, startprob, transmat, emissionprob)
    beta = _ref_backward(x, transmat, emissionprob, scale)
    r = alpha * beta
    return r / r.sum(axis=1, keepdims=True), _xi(np.asarray(x), transmat, emissionprob, alpha, beta, scale)


def _forward_with(x, startprob, transmat, emissionprob, rescale=True, emit=True):
    """A forward pass with one thing changed (the mistakes' outputs)."""
    lik = emissionprob.T[x] if emit else np.ones((len(x), len(startprob)))
    alpha, scale = np.empty((len(x), len(startprob))), np.ones(len(x))
    a = startprob * lik[0]
    for t in range(len(x)):
        if t:
            a = (alpha[t - 1] @ transmat) * lik[t]
        scale[t] = a.sum()
        alpha[t] = a / scale[t] if rescale else a
    return alpha, scale


def _backward_with(x, transmat, emissionprob, scale, divide="next", emission="next"):
    lik = emissionprob.T[x]
    beta = np.ones((len(x), transmat.shape[0]))
    for t in range(len(x) - 2, -1, -1):
        e = {"next": lik[t + 1], "same": lik[t], "none": 1.0}[emission]
        c = {"next": scale[t + 1], "same": scale[t], "none": 1.0}[divide]
        beta[t] = transmat @ (e * beta[t + 1]) / c
    return beta


_SCALE_HINT = (
    "the forward pass is not rescaled: alpha_t(k) = p(x_1..x_t, z_t = k) shrinks geometrically "
    "and underflows to 0 on long sequences. Divide each alpha_t by its sum c_t, so that every row "
    "sums to 1"
)


@_checker
def check_forward(forward: Callable) -> None:
    """Check ``forward(x, startprob, transmat, emissionprob) -> (alpha, scale)``.

    ``alpha`` of shape ``(T, K)`` holds the scaled forward variables
    :math:`\\hat\\alpha_t(k) = p(z_t = k \\mid x_1, \\dots, x_t)` (rows sum to
    1) and ``scale`` of shape ``(T,)`` the factors
    :math:`c_t = p(x_t \\mid x_1, \\dots, x_{t-1})` of
    :eq:`hmm-forward-scaled`. The reference is :func:`emtutor.hmm_core.forward`.
    """
    name = "forward"
    _own_work(forward, name)
    for case, x, startprob, transmat, emissionprob in _hmm_cases():
        alpha, scale = _tuple(_call(forward, name, case, x, startprob, transmat, emissionprob),
                              2, name, "alpha, scale", case)
        ref_alpha, ref_scale = _ref_forward(x, startprob, transmat, emissionprob)
        alpha = _as_array(alpha, name, "alpha", case)
        if len(x) >= 1000 and alpha.shape == ref_alpha.shape and (
            not np.all(np.isfinite(alpha)) or np.any(alpha.sum(axis=1) == 0)
        ):
            raise AssertionError(f"{name}: alpha is 0 or NaN. Likely mistake: {_SCALE_HINT}  (case: {case})")
        K = len(startprob)
        _compare(name, "alpha", alpha, ref_alpha, case, [
            (_SCALE_HINT, lambda: _forward_with(x, startprob, transmat, emissionprob, rescale=False)[0]),
            ("transposed transition matrix: transmat[i, j] = A_ij = p(z_{t+1} = j | z_t = i), so "
             "the prediction is alpha_{t-1} @ transmat",
             lambda: _forward_with(x, startprob, transmat.T, emissionprob)[0]),
            ("ignored startprob: alpha_1(k) is proportional to pi_k B_{k, x_1}",
             lambda: _forward_with(x, np.full(K, 1 / K), transmat, emissionprob)[0]),
            ("the emission probability B_{k, x_t} is missing from alpha_t (only the prediction "
             "step was done)", lambda: _forward_with(x, startprob, transmat, emissionprob, emit=False)[0]),
        ], " = (T, K): one row per step")
        _compare(name, "scale", scale, ref_scale, case, [
            ("returned log c_t; scale holds the factors c_t themselves", lambda: np.log(ref_scale)),
            ("returned the running product of the c_t; scale[t] is c_t = p(x_t | x_1..x_{t-1}) alone",
             lambda: np.cumprod(ref_scale)),
            ("c_t was taken before multiplying by the emission probabilities (so it is always 1); "
             "c_t is the sum of (alpha_{t-1} @ transmat) * emissionprob[:, x_t]", lambda: np.ones(len(x))),
        ], " = (T,)")


@_checker
def check_backward(backward: Callable) -> None:
    """Check ``backward(x, transmat, emissionprob, scale) -> beta``.

    The scaled backward pass :eq:`hmm-backward-scaled` with the forward
    pass's ``scale`` (the checker passes the correct one), shape ``(T, K)``;
    the reference is :func:`emtutor.hmm_core.backward`.
    """
    name = "backward"
    _own_work(backward, name)
    for case, x, startprob, transmat, emissionprob in _hmm_cases():
        _, scale = _ref_forward(x, startprob, transmat, emissionprob)
        got = _as_array(_call(backward, name, case, x, transmat, emissionprob, scale), name, "beta", case)
        expected = _ref_backward(x, transmat, emissionprob, scale)
        if len(x) >= 1000 and got.shape == expected.shape and (
            not np.all(np.isfinite(got)) or np.any(got[0] == 0)
        ):
            raise AssertionError(
                f"{name}: beta is 0 or NaN at the start of a long sequence. Likely mistake: the backward "
                f"pass is not scaled; divide each step by c_{{t+1}} (scale[t + 1])  (case: {case})"
            )
        _compare(name, "beta", got, expected, case, [
            ("transposed transition matrix: beta_t(i) = sum_j A_ij B_{j, x_{t+1}} beta_{t+1}(j) is "
             "transmat @ (...), not transmat.T @ (...)",
             lambda: _backward_with(x, transmat.T, emissionprob, scale)),
            ("divided by c_t instead of c_{t+1} (scale[t + 1])",
             lambda: _backward_with(x, transmat, emissionprob, scale, divide="same")),
            ("not divided by the scaling factors c_{t+1}; the scaled pass divides each step by "
             "scale[t + 1]", lambda: _backward_with(x, transmat, emissionprob, scale, divide="none")),
            ("used the emission of x_t instead of x_{t+1}: beta_t(i) = sum_j A_ij B_{j, x_{t+1}} beta_{t+1}(j)",
             lambda: _backward_with(x, transmat, emissionprob, scale, emission="same")),
            ("the emission probabilities B_{j, x_{t+1}} are missing",
             lambda: _backward_with(x, transmat, emissionprob, scale, emission="none")),
            ("beta_T must be 1 for every state (it starts the recursion), not 0",
             lambda: np.zeros_like(expected)),
        ], " = (T, K)")


@_checker
def check_posteriors(posteriors: Callable) -> None:
    """Check ``posteriors(x, startprob, transmat, emissionprob) -> (r, xi)``.

    ``r[t, k]`` :math:`= r_{tk} = p(z_t = k \\mid x_{1:T})` (:eq:`hmm-gamma`),
    shape ``(T, K)``; ``xi[t, i, j]`` :math:`= \\xi_t(i, j) = p(z_t = i, z_{t+1}
    = j \\mid x_{1:T})` (:eq:`hmm-xi`), shape ``(T - 1, K, K)``. While it runs,
    ``forward`` and ``backward`` are the reference passes.
    """
    name = "posteriors"
    uses = {"forward": _ref_forward, "backward": _ref_backward}
    _own_work(posteriors, name, uses)
    for case, x, startprob, transmat, emissionprob in _hmm_cases():
        r, xi = _tuple(_call(posteriors, name, case, x, startprob, transmat, emissionprob, uses=uses),
                       2, name, "r, xi", case)
        alpha, scale = _ref_forward(x, startprob, transmat, emissionprob)
        beta = _ref_backward(x, transmat, emissionprob, scale)
        ref_r, ref_xi = _ref_posteriors(x, startprob, transmat, emissionprob)
        T, K = ref_r.shape
        _compare(name, "r", r, ref_r, case, [
            ("forgot the backward pass: this is the filtered p(z_t | x_1..x_t), not "
             "p(z_t | x_1..x_T); multiply alpha_t by beta_t", lambda: alpha),
            ("forgot the forward pass: r_tk is proportional to alpha_t(k) beta_t(k)",
             lambda: _rows(beta)),
            ("divided alpha_t beta_t by c_t; with the scaled passes alpha_t(k) beta_t(k) already is r_tk",
             lambda: alpha * beta / scale[:, None]),
        ], " = (T, K)")
        _compare(name, "xi", xi, ref_xi, case, [
            ("xi_t not divided by c_{t+1}: xi_t(i, j) = alpha_t(i) A_ij B_{j, x_{t+1}} beta_{t+1}(j) / c_{t+1}",
             lambda: ref_xi * scale[1:, None, None]),
            ("transposed transition matrix in xi: the factor is A_ij = transmat[i, j]",
             lambda: _xi(x, transmat.T, emissionprob, alpha, beta, scale)),
            ("used the emission of x_t instead of x_{t+1} in xi_t",
             lambda: _xi(np.r_[x[:1], x[:-1]], transmat, emissionprob, alpha, beta, scale)
             if T > 1 else None),
            ("used beta_t instead of beta_{t+1} in xi_t",
             lambda: _xi(x, transmat, emissionprob, alpha, np.r_[beta[:1], beta[:-1]], scale) if T > 1 else None),
            ("normalised each row i of xi_t; xi_t(i, j) is the joint probability of z_t = i and "
             "z_{t+1} = j, so all K x K entries of xi_t sum to 1", lambda: _rows(ref_xi)),
        ], " = (T - 1, K, K): one K x K matrix per transition", shape_hints=[(
            (T, K, K), "xi has one matrix per transition t -> t + 1, that is T - 1 of them"
        )])


def _hmm_m_step_cases():
    cases = []
    for case, x, startprob, transmat, emissionprob in _hmm_cases(single=False):
        r, xi = _ref_posteriors(x, startprob, transmat, emissionprob)
        cases.append((case, x, r, xi, emissionprob.shape[1]))
    return cases


def _ref_hmm_m_step(x, r, xi, n_symbols):
    """Reference Baum–Welch M-step (:func:`emtutor.hmm.m_step`) from ``r`` and ``xi``."""
    K = r.shape[1]
    stats = hmm.HMMStats(r, xi.sum(axis=0), r[0])
    # the M-step learns every parameter, so the previous ones only give the shapes
    previous = hmm.CategoricalHMMParams(np.full(K, 1 / K), np.full((K, K), 1 / K), np.full((K, n_symbols), 1 / n_symbols))
    return hmm.m_step(hmm.Sequences(np.asarray(x), np.array([len(x)])), stats, previous)


@_checker
def check_hmm_m_step(m_step: Callable) -> None:
    """Check ``m_step(x, r, xi, n_symbols) -> (startprob, transmat, emissionprob)``.

    The Baum–Welch M-step :eq:`hmm-m-start`, :eq:`hmm-m-transmat`,
    :eq:`hmm-m-emissionprob` from the posteriors ``r`` (shape ``(T, K)``) and
    ``xi`` (shape ``(T - 1, K, K)``), which the checker computes correctly;
    the reference is :func:`emtutor.hmm.m_step`.
    """
    name = "m_step"
    _own_work(m_step, name)
    for case, x, r, xi, n_symbols in _hmm_m_step_cases():
        new_start, new_trans, new_emit = _tuple(_call(m_step, name, case, x, r, xi, n_symbols), 3, name,
                                                "startprob, transmat, emissionprob", case)
        ref = _ref_hmm_m_step(x, r, xi, n_symbols)
        K = r.shape[1]
        counts = xi.sum(axis=0)
        emit = r.T @ np.eye(n_symbols)[x]
        _compare(name, "startprob", new_start, ref.startprob, case, [
            ("the new pi_k is r_1k (the posterior at the first step), not the average of r over time",
             lambda: r.mean(axis=0)),
            ("the new pi_k is r_1k, the posterior at the *first* step", lambda: r[-1]),
        ], " = (K,)")
        _compare(name, "transmat", new_trans, ref.transmat, case, [
            ("transposed transition matrix: A_ij = expected transitions i -> j over expected "
             "transitions out of i", lambda: ref.transmat.T),
            ("expected transitions normalised over columns; normalise each row i (transitions out of i)",
             lambda: counts / counts.sum(axis=0, keepdims=True)),
            ("expected transitions divided by r summed over all T steps; the denominator sums over "
             "t = 1..T-1 only (equivalently, normalise each row of sum_t xi_t)",
             lambda: counts / r.sum(axis=0)[:, None]),
            ("expected transition counts sum_t xi_t(i, j) not normalised: divide each row by its sum",
             lambda: counts),
            ("averaged the xi_t over time; A_ij normalises the row i of sum_t xi_t(i, j)",
             lambda: counts / len(xi)),
        ], " = (K, K)")
        _compare(name, "emissionprob", new_emit, ref.emissionprob, case, [
            ("expected emission counts not normalised: divide by the expected number of visits to "
             "each state, sum_t r_tk", lambda: emit),
            ("expected emission counts divided by the number of steps T instead of by sum_t r_tk",
             lambda: emit / len(x)),
            ("emission counts normalised over states (columns) instead of symbols (rows)",
             lambda: emit / emit.sum(axis=0, keepdims=True)),
        ], " = (K, V): one row per state", shape_hints=[(
            (n_symbols, K), "emissionprob is transposed: emissionprob[k, m] = B_km, one row per state"
        )] if n_symbols != K else ())


class CasinoRun(NamedTuple):
    """What :func:`check_casino_em` returns: the run of the student's Baum–Welch.

    Attributes
    ----------
    log_likelihoods : ndarray of shape (n_iter + 1,)
    startprob, transmat, emissionprob : ndarray
        The parameters after the last iteration.
    """

    log_likelihoods: np.ndarray
    startprob: np.ndarray
    transmat: np.ndarray
    emissionprob: np.ndarray


@_checker
def check_casino_em(forward: Callable, backward: Callable, posteriors: Callable, m_step: Callable,
                    n_iter: int = 20) -> CasinoRun:
    """Check the four HMM functions together: Baum–Welch on 400 simulated casino rolls.

    Re-runs :func:`check_forward`, :func:`check_backward`,
    :func:`check_posteriors` and :func:`check_hmm_m_step` (this point needs
    every part right), then runs ``n_iter`` iterations of the student's
    ``posteriors`` and ``m_step`` from a start that knows only that one die
    favours sixes, checks that the log-likelihood never decreases and that
    the estimates agree with
    :func:`emtutor.hmm.e_step` / :func:`emtutor.hmm.m_step` from the same start.

    Returns
    -------
    CasinoRun
    """
    _all_parts([(check_forward, forward), (check_backward, backward),
                (check_posteriors, posteriors), (check_hmm_m_step, m_step)])
    rolls, _ = hmm.sample(hmm.CategoricalHMMParams(*_CASINO), 400, random_state=11)
    params = (np.array([0.5, 0.5]), np.array([[0.8, 0.2], [0.2, 0.8]]),
              np.array([[1 / 6] * 6, [0.15] * 5 + [0.25]]))
    reference = hmm.CategoricalHMMParams(*params)
    data = hmm.as_sequences(rolls, kind="categorical")
    case = "casino, 400 rolls"
    history = [float(np.sum(np.log(_call(forward, "forward", case, rolls, *params)[1])))]
    for _ in range(n_iter):
        r, xi = _call(posteriors, "posteriors", case, rolls, *params)
        params = tuple(np.asarray(p, float) for p in _call(m_step, "m_step", case, rolls, r, xi, 6))
        stats, _ = hmm.e_step(data, reference)
        reference = hmm.m_step(data, stats, reference)
        history.append(hmm.log_likelihood(rolls, hmm.CategoricalHMMParams(*params)))
    history = _monotone(history, "Baum-Welch")
    for what, got, expected in zip(("startprob", "transmat", "emissionprob"), params, reference):
        _compare("Baum-Welch", f"{what} after {n_iter} iterations", got, expected, case)
    return CasinoRun(history, *params)


# ============================================================ two coins

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


@_checker
def check_coins_e_step(coins_e_step: Callable) -> None:
    """Check ``coins_e_step(heads, tosses, weights, thetas) -> resp``.

    ``resp[i, k]`` :math:`= r_{ik}` is the posterior probability that coin
    ``k`` made set ``i`` (:eq:`coins-e-step`), shape ``(N, K)``; the
    reference is :func:`emtutor.coins.e_step`.
    """
    name = "coins_e_step"
    _own_work(coins_e_step, name)
    for case, heads, tosses, weights, thetas in _coin_cases():
        got = _as_array(_call(coins_e_step, name, case, heads, tosses, weights, thetas), name, "resp", case)
        expected, _ = coins.e_step(coins.CoinData(heads, tosses), coins.CoinParams(weights, thetas))
        if case.startswith("2000") and got.shape == expected.shape and (
            not np.all(np.isfinite(got)) or np.any(got.sum(axis=1) == 0)
        ):
            raise AssertionError(
                f"{name}: resp is NaN or 0. Likely mistake: the likelihoods theta^h (1 - theta)^(n - h) "
                "are computed without log space and underflow to 0 for long sets; compute "
                "log pi_k + h log theta_k + (n - h) log(1 - theta_k) and normalise with "
                f"scipy.special.logsumexp  (case: {case})"
            )
        h, n = heads[:, None], tosses[:, None]
        log_lik = xlogy(h, thetas) + xlogy(n - h, 1 - thetas)
        log_w = np.log(weights)
        K = len(weights)
        _compare(name, "resp", got, expected, case, [
            ("responsibilities not normalised across coins: divide each row by its sum over the coins",
             lambda: np.exp(log_w + log_lik)),
            ("normalised over the sets (axis 0) instead of over the coins (axis 1)",
             lambda: softmax(log_w + log_lik, axis=0)),
            ("forgot the coin weights: r_ik is proportional to pi_k p(set i | coin k)",
             lambda: softmax(log_lik, axis=1)),
            ("the likelihood of a set lacks the tails factor (1 - theta_k)^(n_i - h_i)",
             lambda: softmax(log_w + xlogy(h, thetas), axis=1)),
            ("heads and tails swapped: p(set i | coin k) = theta_k^h_i (1 - theta_k)^(n_i - h_i)",
             lambda: softmax(log_w + xlogy(h, 1 - thetas) + xlogy(n - h, thetas), axis=1)),
            ("hard assignments (each set wholly to its most likely coin); EM's E-step keeps the "
             "posterior probabilities", lambda: np.eye(K)[np.argmax(expected, axis=1)]),
        ], " = (N, K): one row per set", shape_hints=[(
            expected.shape[::-1], "resp is transposed: one row per set, one column per coin"
        )])


@_checker
def check_coins_log_likelihood(coins_log_likelihood: Callable) -> None:
    """Check ``coins_log_likelihood(heads, tosses, weights, thetas) -> float``.

    The log-likelihood of the observed sequences of tosses,
    :math:`\\sum_i \\log \\sum_k \\pi_k \\theta_k^{h_i} (1 - \\theta_k)^{n_i - h_i}`
    (:eq:`coins-log-likelihood`); the reference is
    :func:`emtutor.coins.log_likelihood`.
    """
    name = "coins_log_likelihood"
    _own_work(coins_log_likelihood, name)
    for case, heads, tosses, weights, thetas in _coin_cases():
        got = _call(coins_log_likelihood, name, case, heads, tosses, weights, thetas)
        got = _scalar(got, name, "the log-likelihood", case, per="set")
        data, params = coins.CoinData(heads, tosses), coins.CoinParams(weights, thetas)
        expected = coins.log_likelihood(data, params)
        if case.startswith("2000") and not np.isfinite(got):
            raise AssertionError(
                f"{name}: the log-likelihood is not finite. Likely mistake: the likelihoods "
                "theta^h (1 - theta)^(n - h) underflow to 0 for long sets; add the logarithms and "
                f"combine the coins with scipy.special.logsumexp  (case: {case})"
            )
        h, n = heads[:, None], tosses[:, None]
        log_joint = np.log(weights) + xlogy(h, thetas) + xlogy(n - h, 1 - thetas)
        log_binomial = gammaln(tosses + 1) - gammaln(heads + 1) - gammaln(tosses - heads + 1)
        _compare(name, "the log-likelihood", got, expected, case, [
            ("forgot the coin weights: each set's term is log sum_k pi_k theta_k^h_i (1 - theta_k)^(n_i - h_i)",
             lambda: logsumexp(log_joint - np.log(weights), axis=1).sum()),
            ("averaged over the sets; the log-likelihood is the sum", lambda: expected / len(heads)),
            ("took the most likely coin's term (max over k) instead of the log of the sum over the coins",
             lambda: log_joint.max(axis=1).sum()),
            ("added the binomial coefficients log C(n_i, h_i): this is the likelihood of the observed "
             "sequences of tosses, which has none", lambda: expected + log_binomial.sum()),
        ])


@_checker
def check_coins_m_step(coins_m_step: Callable) -> None:
    """Check ``coins_m_step(heads, tosses, resp) -> thetas``.

    ``thetas[k]`` is coin ``k``'s expected number of heads over its expected
    number of tosses (:eq:`coins-m-step`); the reference is
    :func:`emtutor.coins.m_step`.
    """
    name = "coins_m_step"
    _own_work(coins_m_step, name)
    cases = [(case, h, n, coins.e_step(coins.CoinData(h, n), coins.CoinParams(w, th))[0])
             for case, h, n, w, th in _coin_cases()[:3]]
    cases.append(("one coin", cases[1][1], cases[1][2], np.ones((len(cases[1][1]), 1))))
    for case, heads, tosses, r in cases:
        got = _call(coins_m_step, name, case, heads, tosses, r)
        expected = coins.m_step(coins.CoinData(heads, tosses), r).thetas
        hard = np.eye(r.shape[1])[np.argmax(r, axis=1)]
        _compare(name, "thetas", got, expected, case, [
            ("averaged the per-set fractions h_i / n_i; theta_k is expected heads over "
             "expected tosses, sum_i r_ik h_i / sum_i r_ik n_i",
             lambda: r.T @ (heads / tosses) / r.sum(axis=0)),
            ("divided the expected heads by the expected number of sets instead of the "
             "expected number of tosses", lambda: r.T @ heads / r.sum(axis=0)),
            ("assumed 10 tosses per set; divide by the expected tosses sum_i r_ik n_i",
             lambda: r.T @ heads / (10.0 * r.sum(axis=0))),
            ("used hard assignments (each set to its most likely coin); EM weights every set "
             "by its responsibilities", lambda: hard.T @ heads / (hard.T @ tosses)),
            ("counted tails instead of heads", lambda: 1 - expected),
            ("the sets are not weighted by the responsibilities",
             lambda: np.full(r.shape[1], heads.sum() / tosses.sum())),
            ("normalised the biases to sum to 1; each theta_k is a probability on its own",
             lambda: expected / expected.sum()),
        ], " = (K,)")


class CoinsRun(NamedTuple):
    """What :func:`check_coins_em` returns: the biases and log-likelihood after each iteration.

    Attributes
    ----------
    thetas : ndarray of shape (n_iter + 1, 2)
    log_likelihoods : ndarray of shape (n_iter + 1,)
    """

    thetas: np.ndarray
    log_likelihoods: np.ndarray


@_checker
def check_coins_em(coins_e_step: Callable, coins_log_likelihood: Callable, coins_m_step: Callable,
                   n_iter: int = 10) -> CoinsRun:
    """Check the three coin functions together: Do & Batzoglou's ten iterations.

    Re-runs :func:`check_coins_e_step`, :func:`check_coins_log_likelihood`
    and :func:`check_coins_m_step` (this point needs every part right), then
    runs ``n_iter`` iterations from :math:`\\theta = (0.6, 0.5)` with the
    weights fixed at 1/2 on the paper's five sets, checks that the
    log-likelihood never decreases and compares every iteration with
    :func:`emtutor.coins.e_step` and :func:`emtutor.coins.m_step`.

    Returns
    -------
    CoinsRun
        ``thetas`` of shape ``(n_iter + 1, 2)`` and the log-likelihoods.
    """
    _all_parts([(check_coins_e_step, coins_e_step), (check_coins_log_likelihood, coins_log_likelihood),
                (check_coins_m_step, coins_m_step)])
    heads, tosses, weights = _PAPER_HEADS, np.full(5, 10.0), np.array([0.5, 0.5])
    data = coins.CoinData(heads, tosses)
    thetas = reference = np.array([0.6, 0.5])
    path = [thetas]
    case = "Do & Batzoglou, 10 iterations"
    history = [float(_call(coins_log_likelihood, "coins_log_likelihood", case, heads, tosses, weights, thetas))]
    for _ in range(n_iter):
        resp = _call(coins_e_step, "coins_e_step", case, heads, tosses, weights, thetas)
        thetas = np.asarray(_call(coins_m_step, "coins_m_step", case, heads, tosses, resp), float)
        reference = coins.m_step(data, coins.e_step(data, coins.CoinParams(weights, reference))[0]).thetas
        _compare("EM", "thetas", thetas, reference, case)
        path.append(thetas)
        history.append(float(_call(coins_log_likelihood, "coins_log_likelihood", case, heads, tosses,
                                   weights, thetas)))
    history = _monotone(history)
    return CoinsRun(np.array(path), history)


# ============================================================ missing data


def _blocks_of(x):
    m = np.isnan(x)
    return m, ~m


def _ref_conditional(x, mean, cov):
    """Reference ``(x_hat, C)`` of one row (:eq:`missing-conditional-mean`, :eq:`missing-conditional-cov`)."""
    m, o = _blocks_of(x)
    x_hat, C = np.array(x, dtype=float), np.zeros_like(cov)
    if m.any():
        gain = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)]).T  # Sigma_mo Sigma_oo^{-1}
        x_hat[m] = mean[m] + gain @ (x[o] - mean[o])
        C[np.ix_(m, m)] = cov[np.ix_(m, m)] - gain @ cov[np.ix_(o, m)]
    return x_hat, C


def _conditional_cases():
    rng = np.random.default_rng(5)
    cov3 = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.6], [0.5, 0.6, 1.5]])
    cov5 = _spd(rng, 5, 2.0)
    mean5 = np.array([100.0, -50.0, 20.0, 3.0, 0.0])
    x5 = rng.multivariate_normal(mean5, cov5)
    x4 = rng.multivariate_normal(np.zeros(4), _spd(rng, 4))
    cov4 = _spd(rng, 4)
    nan = np.nan
    return [
        ("3 features, the last one missing", np.array([1.3, -0.4, nan]), np.array([1.0, -1.0, 2.0]), cov3),
        ("3 features, the first one missing", np.array([nan, 0.2, 2.9]), np.array([1.0, -1.0, 2.0]), cov3),
        ("5 features far from 0, features 0, 2 and 4 missing", np.where([1, 0, 1, 0, 1], nan, x5), mean5, cov5),
        ("4 features, nothing missing", x4, np.zeros(4), cov4),
        ("4 features, only one observed", np.array([nan, nan, 0.7, nan]), np.array([0.5, 0.0, 0.2, -1.0]), cov4),
    ]


def _precision_mean(x, mean, cov):
    """The mistaken ``mu_m - Lambda_mo (x_o - mu_o)`` (without ``inv(Lambda_mm)``)."""
    m, o = _blocks_of(x)
    lam = np.linalg.inv(cov)
    out = np.array(x, dtype=float)
    out[m] = mean[m] - lam[np.ix_(m, o)] @ (x[o] - mean[o])
    return out


def _filled(x, values):
    out = np.array(x, dtype=float)
    out[np.isnan(x)] = values
    return out


@_checker
def check_conditional_mean(conditional_mean: Callable) -> None:
    """Check ``conditional_mean(x, mean, cov) -> x_hat`` for one row ``x`` (``NaN`` where missing).

    ``x_hat`` of shape ``(D,)`` keeps the observed values and holds
    :math:`\\mu_m + \\Sigma_{mo}\\Sigma_{oo}^{-1}(x_o - \\mu_o)` in the missing
    places (:eq:`missing-conditional-mean`); the reference is
    :func:`emtutor.missing.impute`.
    """
    name = "conditional_mean"
    _own_work(conditional_mean, name)
    for case, x, mean, cov in _conditional_cases():
        got = _as_array(_call(conditional_mean, name, case, x, mean, cov), name, "x_hat", case)
        expected = missing.impute(x[None], missing.MissingNormalParams(mean, cov))[0]
        m, o = _blocks_of(x)
        solve = lambda a, b: np.linalg.solve(a, b)  # noqa: E731
        S = lambda r, c: cov[np.ix_(r, c)]  # noqa: E731
        _compare(name, "x_hat", got, expected, case, [
            ("filled in the mean mu_m only; the conditional mean also moves with the observed values: "
             "mu_m + Sigma_mo Sigma_oo^{-1} (x_o - mu_o)", lambda: _filled(x, mean[m])),
            ("filled in zeros; the missing values are mu_m + Sigma_mo Sigma_oo^{-1} (x_o - mu_o)",
             lambda: np.nan_to_num(x)),
            ("Sigma_oo is not inverted: the regression coefficients are Sigma_mo Sigma_oo^{-1} "
             "(np.linalg.solve(Sigma_oo, x_o - mu_o))",
             lambda: _filled(x, mean[m] + S(m, o) @ (x[o] - mean[o]))),
            ("the observed values are not centred: use x_o - mu_o",
             lambda: _filled(x, mean[m] + S(m, o) @ solve(S(o, o), x[o]))),
            ("wrong sign: it is mu_m + Sigma_mo Sigma_oo^{-1} (x_o - mu_o)",
             lambda: _filled(x, mean[m] - S(m, o) @ solve(S(o, o), x[o] - mean[o]))),
            ("with the precision Lambda = Sigma^{-1} it is mu_m - Lambda_mm^{-1} Lambda_mo (x_o - mu_o): "
             "the factor Lambda_mm^{-1} is missing", lambda: _precision_mean(x, mean, cov)),
            ("changed the observed values; x_hat keeps x_o and fills in only the missing places",
             lambda: np.where(o, mean, expected)),
        ], " = (D,): the whole row, observed values kept", shape_hints=[(
            (int(m.sum()),), "returned only the missing part; return the whole row with the "
                             "missing values filled in"
        )] if 0 < m.sum() < len(x) else ())


@_checker
def check_conditional_cov(conditional_cov: Callable) -> None:
    """Check ``conditional_cov(x, mean, cov) -> C`` for one row ``x`` (``NaN`` where missing).

    ``C`` of shape ``(D, D)`` holds
    :math:`\\Sigma_{mm} - \\Sigma_{mo}\\Sigma_{oo}^{-1}\\Sigma_{om}` in its
    missing-by-missing block and zeros elsewhere
    (:eq:`missing-conditional-cov`); the reference is the ``cov_correction``
    of :func:`emtutor.missing.e_step` for that row.
    """
    name = "conditional_cov"
    _own_work(conditional_cov, name)
    for case, x, mean, cov in _conditional_cases():
        got = _as_array(_call(conditional_cov, name, case, x, mean, cov), name, "C", case)
        expected = _ref_conditional(x, mean, cov)[1]
        m, o = _blocks_of(x)
        S = lambda r, c: cov[np.ix_(r, c)]  # noqa: E731

        def block(values):
            out = np.zeros_like(cov)
            out[np.ix_(m, m)] = values
            return out

        def swapped():
            out = np.zeros_like(cov)
            out[np.ix_(o, o)] = S(o, o) - S(o, m) @ np.linalg.solve(S(m, m), S(m, o))
            return out

        _compare(name, "C", got, expected, case, [
            ("returned zeros (no correction); the missing block is the conditional covariance "
             "Sigma_mm - Sigma_mo Sigma_oo^{-1} Sigma_om", lambda: np.zeros_like(cov) if m.any() else None),
            ("forgot to subtract Sigma_mo Sigma_oo^{-1} Sigma_om from Sigma_mm", lambda: block(S(m, m))),
            ("wrong sign: it is Sigma_mm - Sigma_mo Sigma_oo^{-1} Sigma_om",
             lambda: block(S(m, m) + S(m, o) @ np.linalg.solve(S(o, o), S(o, m)))),
            ("Sigma_oo is not inverted: Sigma_mm - Sigma_mo Sigma_oo^{-1} Sigma_om",
             lambda: block(S(m, m) - S(m, o) @ S(o, m))),
            ("used the block Lambda_mm of the precision; the conditional covariance is its inverse, "
             "Lambda_mm^{-1}", lambda: block(np.linalg.inv(cov)[np.ix_(m, m)])),
            ("swapped the roles of observed and missing: the block of C is missing-by-missing",
             lambda: swapped() if o.any() and m.any() else None),
        ], " = (D, D), zero outside the missing-by-missing block", shape_hints=[(
            (int(m.sum()), int(m.sum())), "returned only the missing-by-missing block; C is D x D "
                                          "with that block in the missing rows and columns"
        )] if 0 < m.sum() < len(x) else ())


def _missing_data(rng, n=30):
    mean = np.array([1.0, -1.0, 2.0, 0.5])
    cov = np.array([[1.0, 0.6, 0.3, 0.1], [0.6, 1.5, 0.4, 0.2], [0.3, 0.4, 0.8, 0.3], [0.1, 0.2, 0.3, 1.2]])
    X = rng.multivariate_normal(mean, cov, size=n)
    holes = rng.random(X.shape) < 0.3
    holes[np.arange(n), rng.integers(0, 4, n)] = False  # every row keeps an observed value
    X[holes] = np.nan
    X[:4] = rng.multivariate_normal(mean, cov, size=4)  # a few complete rows
    return X, mean, cov


def _missing_m_step_cases():
    rng = np.random.default_rng(6)
    cases = []
    for case, mean_shift in [("30 rows, 4 features", 0.0), ("data far from 0 (mean 1000)", 1000.0)]:
        X, mean, cov = _missing_data(rng)
        X = X + mean_shift
        expectations, _ = missing.e_step(X, missing.MissingNormalParams(mean + mean_shift, cov * 1.3))
        cases.append((case, expectations.X_hat, expectations.cov_correction))
    X = rng.normal(size=(12, 3))
    cases.append(("nothing missing (no correction)", X, np.zeros((3, 3))))
    return cases


@_checker
def check_missing_m_step(m_step: Callable) -> None:
    """Check ``m_step(X_hat, cov_correction) -> (mean, cov)``.

    ``X_hat`` holds the rows with their missing values filled in and
    ``cov_correction`` is :math:`\\sum_n C_n`; the new mean and covariance
    are :eq:`missing-m-mean` and :eq:`missing-m-cov`. The reference is
    :func:`emtutor.missing.m_step`.
    """
    name = "m_step"
    _own_work(m_step, name)
    for case, X_hat, C in _missing_m_step_cases():
        new_mean, new_cov = _tuple(_call(m_step, name, case, X_hat, C), 2, name, "mean, cov", case)
        ref = missing.m_step(X_hat, missing.MissingExpectations(X_hat, C))
        n = len(X_hat)
        centred = X_hat - ref.mean
        scatter = centred.T @ centred
        _compare(name, "mean", new_mean, ref.mean, case, [], " = (D,)")
        _compare(name, "cov", new_cov, ref.covariance, case, [
            ("the correction sum_n C_n is missing: without it the variances of the filled-in values "
             "are too small", lambda: scatter / n if np.any(C) else None),
            ("the correction is not divided by N: Sigma = (sum_n (x_hat_n - mu)(x_hat_n - mu)^T + "
             "sum_n C_n) / N", lambda: scatter / n + C),
            ("divided by N - 1 (np.cov's default); the maximum-likelihood estimate divides by N",
             lambda: (scatter + C) / (n - 1)),
            ("subtracted the correction; it is added: E[x x^T] = x_hat x_hat^T + C",
             lambda: (scatter - C) / n if np.any(C) else None),
            ("the second moments are not centred: subtract the new mean, "
             "(x_hat_n - mu)(x_hat_n - mu)^T", lambda: (X_hat.T @ X_hat + C) / n),
        ], " = (D, D)")


def _missing_ll_cases():
    rng = np.random.default_rng(7)
    X, mean, cov = _missing_data(rng)
    Y, mean2, cov2 = _missing_data(rng, n=20)
    return [
        ("30 rows, 4 features, 30% missing", X, mean, cov),
        ("other parameters", X, mean + 0.5, cov * 1.5),
        ("20 rows", Y, mean2 - 1.0, cov2),
    ]


def _full_density_ll(X_filled, mean, cov):
    return float(gmm.log_gaussian_density(X_filled, mean[None], cov[None]).sum())


def _observed_terms(X, mean, cov, *, const_full=False):
    total = 0.0
    for x in X:
        o = ~np.isnan(x)
        S = cov[np.ix_(o, o)]
        diff = x[o] - mean[o]
        d = len(x) if const_full else o.sum()
        total += -0.5 * (d * _LOG_2PI + np.linalg.slogdet(S)[1] + diff @ np.linalg.solve(S, diff))
    return total


@_checker
def check_missing_log_likelihood(log_likelihood: Callable) -> None:
    """Check ``log_likelihood(X, mean, cov) -> float``, the observed-data log-likelihood.

    :math:`\\sum_n \\log \\mathcal{N}(x_{n,o} \\mid \\mu_o, \\Sigma_{oo})`
    (:eq:`missing-log-likelihood`), every row having at least one observed
    value; the reference is :func:`emtutor.missing.log_likelihood`.
    """
    name = "log_likelihood"
    _own_work(log_likelihood, name)
    for case, X, mean, cov in _missing_ll_cases():
        got = _call(log_likelihood, name, case, X, mean, cov)
        got = _scalar(got, name, "the log-likelihood", case, per="row")
        params = missing.MissingNormalParams(mean, cov)
        expected = missing.log_likelihood(X, params)
        complete = ~np.isnan(X).any(axis=1)
        _compare(name, "the log-likelihood", got, expected, case, [
            ("filled in the mean and used the full D-dimensional density; integrate the missing "
             "values out: log N(x_o | mu_o, Sigma_oo) uses only the observed block",
             lambda: _full_density_ll(np.where(np.isnan(X), mean, X), mean, cov)),
            ("filled in the conditional means and used the full D-dimensional density; each row's term "
             "is log N(x_o | mu_o, Sigma_oo) on the observed block",
             lambda: _full_density_ll(missing.impute(X, params), mean, cov)),
            ("the constant is D log(2 pi) for every row; a row with |o| observed values has "
             "|o| log(2 pi)", lambda: _observed_terms(X, mean, cov, const_full=True)),
            ("left out the incomplete rows; each contributes log N(x_o | mu_o, Sigma_oo)",
             lambda: _full_density_ll(X[complete], mean, cov)),
            ("averaged over the rows; the log-likelihood is the sum", lambda: expected / len(X)),
        ])


class MissingRun(NamedTuple):
    """What :func:`check_missing_em` returns: the run of the student's EM.

    Attributes
    ----------
    log_likelihoods : ndarray of shape (n_iter + 1,)
    mean, cov : ndarray
        The estimates after the last iteration.
    """

    log_likelihoods: np.ndarray
    mean: np.ndarray
    cov: np.ndarray


@_checker
def check_missing_em(conditional_mean: Callable, conditional_cov: Callable, m_step: Callable,
                     log_likelihood: Callable, n_iter: int = 15) -> MissingRun:
    """Check the four missing-data functions together: EM on 120 rows with 30% missing.

    Re-runs :func:`check_conditional_mean`, :func:`check_conditional_cov`,
    :func:`check_missing_m_step` and :func:`check_missing_log_likelihood`
    (this point needs every part right), then runs ``n_iter`` EM iterations
    (the E-step fills every row with ``conditional_mean`` and sums
    ``conditional_cov``) from :func:`emtutor.missing.initial_params`, checks
    that the log-likelihood never decreases and that the estimates agree
    with :func:`emtutor.missing.fit`'s steps from the same start.

    Returns
    -------
    MissingRun
    """
    _all_parts([(check_conditional_mean, conditional_mean), (check_conditional_cov, conditional_cov),
                (check_missing_m_step, m_step), (check_missing_log_likelihood, log_likelihood)])
    X, _, _ = _missing_data(np.random.default_rng(8), n=120)
    reference = missing.initial_params(X)
    mean, cov = reference
    case = "120 rows, 4 features, 30% missing"
    history = [float(_call(log_likelihood, "log_likelihood", case, X, mean, cov))]

    def e_step(X, mean, cov):
        X_hat = np.array([conditional_mean(x, mean, cov) for x in X], dtype=float)
        return X_hat, sum(np.asarray(conditional_cov(x, mean, cov), float) for x in X)

    for _ in range(n_iter):
        X_hat, C = _call(e_step, "the E-step (conditional_mean, conditional_cov)", case, X, mean, cov)
        mean, cov = (np.asarray(p, float) for p in _call(m_step, "m_step", case, X_hat, C))
        history.append(float(_call(log_likelihood, "log_likelihood", case, X, mean, cov)))
        reference = missing.m_step(X, missing.e_step(X, reference)[0])
    history = _monotone(history)
    _compare("EM", f"the mean after {n_iter} iterations", mean, reference.mean, case)
    _compare("EM", f"the covariance after {n_iter} iterations", cov, reference.covariance, case)
    return MissingRun(history, mean, cov)


# ============================================================ LDA's variational E-step


def _ref_expected_log_pi(gamma):
    """Reference :math:`E_q[\\log \\pi_{dk}]` (:eq:`lda-dirichlet-log-mean`)."""
    gamma = np.asarray(gamma, dtype=float)
    return digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True))


def _ref_update_phi(gamma, topics):
    """Reference :eq:`lda-phi-update`: ``phi[d, v, k]`` proportional to ``topics[k, v] exp(E log pi_dk)``."""
    return _phi_from(np.exp(_ref_expected_log_pi(gamma)), topics)


def _phi_from(weights, topics):
    unnorm = weights[:, None, :] * np.asarray(topics, float).T[None]
    return unnorm / unnorm.sum(axis=2, keepdims=True)


def _ref_update_gamma(X, phi, alpha):
    """Reference :eq:`lda-gamma-update`: ``gamma[d, k] = alpha_k + sum_v n_dv phi[d, v, k]``."""
    return np.asarray(alpha, float) + np.einsum("dv,dvk->dk", np.asarray(X, float), phi)


def _lda_corpus(rng, n_docs, n_tokens=20):
    X, topics, _ = datasets.bars(n_docs=n_docs, n_tokens=n_tokens, random_state=rng)
    return X, 0.8 * topics + 0.2 / topics.shape[1]


def _gamma_cases():
    rng = np.random.default_rng(9)
    return [
        ("6 documents, 4 topics", rng.gamma(2.0, 3.0, size=(6, 4)) + 0.1),
        ("one topic much more used (gamma from 0.05 to 80)", np.array([[0.05, 80.0, 1.0], [2.0, 0.3, 40.0]])),
        ("one document, 10 topics", rng.gamma(1.0, 1.0, size=(1, 10)) + 0.01),
    ]


@_checker
def check_expected_log_pi(expected_log_pi: Callable) -> None:
    """Check ``expected_log_pi(gamma)``: :math:`E_q[\\log \\pi_{dk}] = \\psi(\\gamma_{dk}) - \\psi(\\sum_j \\gamma_{dj})`.

    :eq:`lda-dirichlet-log-mean`, shape ``(M, K)`` like ``gamma``.
    """
    name = "expected_log_pi"
    _own_work(expected_log_pi, name)
    for case, gamma in _gamma_cases():
        got = _call(expected_log_pi, name, case, gamma)
        total = gamma.sum(axis=1, keepdims=True)
        _compare(name, "E_q[log pi]", got, _ref_expected_log_pi(gamma), case, [
            ("the log of the mean, log(gamma_dk / sum_j gamma_dj); under the Dirichlet "
             "E_q[log pi_dk] = digamma(gamma_dk) - digamma(sum_j gamma_dj)", lambda: np.log(gamma / total)),
            ("digamma(gamma_dk) without subtracting digamma(sum_j gamma_dj)", lambda: digamma(gamma)),
            ("subtracted digamma of the column sums (over documents, axis 0); the sum is over the "
             "topics of the same document, axis 1", lambda: digamma(gamma) - digamma(gamma.sum(axis=0))),
            ("subtracted log(sum_j gamma_dj) instead of digamma(sum_j gamma_dj)",
             lambda: digamma(gamma) - np.log(total)),
            ("used gammaln (the log of the Gamma function) where the digamma function psi belongs",
             lambda: gammaln(gamma) - gammaln(total)),
            ("subtracted digamma of the sum over all entries; the sum is over each document's topics",
             lambda: digamma(gamma) - digamma(gamma.sum())),
        ], " = (M, K), like gamma")


def _phi_cases():
    rng = np.random.default_rng(10)
    X, topics = _lda_corpus(rng, 5)
    K = len(topics)
    return [
        ("bars topics, 5 documents", rng.gamma(2.0, 2.0, size=(5, K)) + 0.5, topics),
        ("3 topics, 4 words", np.array([[5.0, 1.0, 0.2], [0.5, 0.5, 9.0]]),
         np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25], [0.05, 0.05, 0.1, 0.8]])),
    ]


@_checker
def check_update_phi(update_phi: Callable) -> None:
    """Check ``update_phi(gamma, topics) -> phi`` of shape ``(M, V, K)``.

    :eq:`lda-phi-update`: ``phi[d, v, k]`` is proportional to
    :math:`B_{kv} \\exp(E_q[\\log \\pi_{dk}])` and sums to 1 over ``k``.
    While it runs, ``expected_log_pi`` is the reference.
    """
    name = "update_phi"
    uses = {"expected_log_pi": _ref_expected_log_pi}
    _own_work(update_phi, name, uses)
    for case, gamma, topics in _phi_cases():
        got = _call(update_phi, name, case, gamma, topics, uses=uses)
        expected = _ref_update_phi(gamma, topics)
        M, V, K = expected.shape
        elog = _ref_expected_log_pi(gamma)
        unnorm = np.exp(elog)[:, None, :] * topics.T[None]
        _compare(name, "phi", got, expected, case, [
            ("weighted the topics by the mean gamma_dk / sum_j gamma_dj; the update uses "
             "exp(E_q[log pi_dk])", lambda: _phi_from(gamma / gamma.sum(axis=1, keepdims=True), topics)),
            ("weighted the topics by gamma_dk itself; the update uses exp(E_q[log pi_dk])",
             lambda: _phi_from(gamma, topics)),
            ("normalised over the words v instead of over the topics k: each phi[d, v, :] sums to 1",
             lambda: unnorm / unnorm.sum(axis=1, keepdims=True)),
            ("phi is not normalised: divide by its sum over the topics k", lambda: unnorm),
            ("forgot the topics: phi[d, v, k] is proportional to B_kv exp(E_q[log pi_dk])",
             lambda: np.broadcast_to(softmax(elog, axis=1)[:, None, :], (M, V, K))),
            ("used E_q[log pi_dk] without the exponential",
             lambda: _phi_from(elog, topics)),
        ], " = (M, V, K): document, word, topic", shape_hints=[
            ((M, K, V), "phi is (M, K, V); its axes are document, word, topic: phi[d, v, k]"),
        ])


def _update_gamma_cases():
    rng = np.random.default_rng(11)
    X, topics = _lda_corpus(rng, 6)
    gamma = rng.gamma(2.0, 2.0, size=(6, len(topics)))
    X = X.copy()
    X[2] = 0.0  # a document with no words
    return [
        ("bars, 6 documents (one of them empty), alpha = 0.5", X, _ref_update_phi(gamma, topics),
         np.full(len(topics), 0.5)),
        ("unequal alpha", X[:3], _ref_update_phi(gamma[:3], topics), np.linspace(0.1, 2.0, len(topics))),
    ]


@_checker
def check_update_gamma(update_gamma: Callable) -> None:
    """Check ``update_gamma(X, phi, alpha) -> gamma``: :math:`\\gamma_{dk} = \\alpha_k + \\sum_v n_{dv} \\phi_{dvk}`.

    :eq:`lda-gamma-update`, shape ``(M, K)``; ``X[d, v]`` is the count
    :math:`n_{dv}`.
    """
    name = "update_gamma"
    _own_work(update_gamma, name)
    for case, X, phi, alpha in _update_gamma_cases():
        got = _call(update_gamma, name, case, X, phi, alpha)
        expected = _ref_update_gamma(X, phi, alpha)
        M, V, K = phi.shape
        counts = expected - alpha
        lengths = X.sum(axis=1, keepdims=True)
        _compare(name, "gamma", got, expected, case, [
            ("forgot the prior: gamma_dk = alpha_k + sum_v n_dv phi_dvk", lambda: counts),
            ("phi not weighted by the word counts n_dv: gamma_dk = alpha_k + sum_v n_dv phi_dvk",
             lambda: alpha + phi.sum(axis=1)),
            ("divided the expected counts by the document length; gamma holds counts, not fractions",
             lambda: alpha + counts / np.where(lengths > 0, lengths, 1.0)),
            ("added alpha once per word; it is added once per document",
             lambda: alpha * lengths + counts),
        ], " = (M, K)", shape_hints=[
            ((V, K), "summed over the documents; gamma has one row per document (sum over the words v)"),
            ((M, V), "summed over the topics; gamma_dk sums over the words v"),
        ])


def _lda_e_step_cases():
    rng = np.random.default_rng(12)
    X, topics = _lda_corpus(rng, 8)
    X[5] = 0.0
    return [
        ("bars, 8 documents (one empty), alpha = 0.5, 5 sweeps", X, np.full(len(topics), 0.5), topics, 5),
        ("unequal alpha, 1 sweep", X[:4], np.linspace(0.2, 3.0, len(topics)), topics, 1),
    ]


def _lda_sweeps(X, alpha, topics, n_sweeps, start=None):
    K = len(alpha)
    gamma = alpha + X.sum(axis=1, keepdims=True) / K if start is None else start
    for _ in range(n_sweeps):
        gamma = _ref_update_gamma(X, _ref_update_phi(gamma, topics), alpha)
    return gamma


@_checker
def check_lda_e_step(e_step: Callable) -> None:
    """Check ``e_step(X, alpha, topics, n_sweeps) -> (gamma, phi)``.

    From :math:`\\gamma_{dk} = \\alpha_k + N_d / K`, ``n_sweeps`` sweeps of
    :eq:`lda-phi-update` then :eq:`lda-gamma-update`, and a last
    :eq:`lda-phi-update` so that ``phi`` belongs to the returned ``gamma``.
    The reference ``gamma`` is that of :func:`emtutor.lda.e_step` with
    ``tol=0`` and ``max_iter=n_sweeps``. While it runs, ``expected_log_pi``,
    ``update_phi`` and ``update_gamma`` are the references.
    """
    name = "e_step"
    uses = {"expected_log_pi": _ref_expected_log_pi, "update_phi": _ref_update_phi,
            "update_gamma": _ref_update_gamma}
    _own_work(e_step, name, uses)
    for case, X, alpha, topics, n_sweeps in _lda_e_step_cases():
        gamma, phi = _tuple(_call(e_step, name, case, X, alpha, topics, n_sweeps, uses=uses), 2, name,
                            "gamma, phi", case)
        expected = lda.e_step(X, lda.LDAParams(alpha, topics), tol=0.0, max_iter=n_sweeps)[0].gamma
        _compare(name, "gamma", gamma, expected, case, [
            ("started from gamma = alpha; the start is gamma_dk = alpha_k + N_d / K",
             lambda: _lda_sweeps(X, alpha, topics, n_sweeps, start=np.tile(alpha, (len(X), 1)))),
            ("one sweep too few (the loop runs n_sweeps times)", lambda: _lda_sweeps(X, alpha, topics, n_sweeps - 1)),
            ("one sweep too many (the loop runs n_sweeps times)", lambda: _lda_sweeps(X, alpha, topics, n_sweeps + 1)),
            ("gamma is updated only once; each sweep updates phi from the current gamma, then gamma "
             "from that phi", lambda: _lda_sweeps(X, alpha, topics, 1) if n_sweeps > 1 else None),
        ], " = (M, K)")
        _compare(name, "phi", phi, _ref_update_phi(expected, topics), case, [
            ("phi belongs to the gamma before the last update; end with a phi update from the final gamma",
             lambda: _ref_update_phi(_lda_sweeps(X, alpha, topics, n_sweeps - 1), topics)),
        ], " = (M, V, K)")


class LDARun(NamedTuple):
    """What :func:`check_lda_em` returns.

    Attributes
    ----------
    gamma : ndarray of shape (M, K)
        The student's variational Dirichlet parameters.
    topic_proportions : ndarray of shape (M, K)
        Their means ``gamma / gamma.sum(axis=1)``.
    """

    gamma: np.ndarray
    topic_proportions: np.ndarray


@_checker
def check_lda_em(expected_log_pi: Callable, update_phi: Callable, update_gamma: Callable, e_step: Callable,
                 n_sweeps: int = 30) -> LDARun:
    """Check the four LDA functions together: the E-step on 40 bars documents.

    Re-runs :func:`check_expected_log_pi`, :func:`check_update_phi`,
    :func:`check_update_gamma` and :func:`check_lda_e_step` (this point
    needs every part right), then runs the student's ``e_step`` (with the
    student's updates) for ``n_sweeps`` sweeps with the true bars topics and
    compares ``gamma`` with :func:`emtutor.lda.e_step`.

    Returns
    -------
    LDARun
        ``gamma`` and the variational mean topic proportions
        ``gamma / gamma.sum(axis=1)``.
    """
    _all_parts([(check_expected_log_pi, expected_log_pi), (check_update_phi, update_phi),
                (check_update_gamma, update_gamma), (check_lda_e_step, e_step)])
    X, topics, _ = datasets.bars(n_docs=40, n_tokens=50, random_state=13)
    alpha = np.full(len(topics), 0.5)
    case = "bars, 40 documents of 50 words"
    gamma, _ = _call(e_step, "e_step", case, X, alpha, topics, n_sweeps)
    expected = lda.e_step(X, lda.LDAParams(alpha, topics), tol=0.0, max_iter=n_sweeps)[0].gamma
    _compare("the E-step", f"gamma after {n_sweeps} sweeps", gamma, expected, case)
    gamma = np.asarray(gamma, float)
    return LDARun(gamma, gamma / gamma.sum(axis=1, keepdims=True))


# ============================================================ standard errors for the two coins


def _se_coin_cases():
    """``(case, heads, tosses, weights, thetas)``: at fixed points of EM and away from them."""
    rng = np.random.default_rng(10)
    tosses = rng.integers(5, 21, size=12).astype(float)
    heads = rng.binomial(tosses.astype(int), np.where(rng.random(12) < 0.5, 0.3, 0.75)).astype(float)
    paper = _PAPER_HEADS, np.full(5, 10.0), np.array([0.5, 0.5])
    return [
        ("Do & Batzoglou's 5 sets at theta = (0.6, 0.5)", *paper, np.array([0.6, 0.5])),
        ("Do & Batzoglou's 5 sets at the maximum-likelihood estimate", *paper, _se_paper_estimate()),
        ("unequal weights, unequal numbers of tosses", heads, tosses, np.array([0.7, 0.3]), np.array([0.35, 0.8])),
        ("three coins", heads, tosses, np.array([0.2, 0.5, 0.3]), np.array([0.2, 0.5, 0.9])),
    ]


@functools.lru_cache(maxsize=None)
def _se_paper_estimate_cached() -> tuple:
    """EM iterated until one more iteration moves the biases by less than 1e-15 (rate about 0.4)."""
    em_map = _coin_em_map(_PAPER_HEADS, np.full(5, 10.0), np.array([0.5, 0.5]))
    thetas = np.array([0.6, 0.5])
    for _ in range(1000):
        new = em_map(thetas)
        if np.max(np.abs(new - thetas)) < 1e-15:
            break
        thetas = new
    return tuple(thetas)


def _se_paper_estimate() -> np.ndarray:
    """The maximum-likelihood estimate of the paper's biases (weights 1/2), a fixed point of EM."""
    return np.array(_se_paper_estimate_cached())


def _se_reference(heads, tosses, weights, thetas):
    """``(resp, I_com, I_mis, g)``: emtutor's information matrices, ``g[i, k]`` the score of set i under coin k."""
    data, params = coins.CoinData(heads, tosses), coins.CoinParams(weights, thetas)
    resp = coins.e_step(data, params)[0]
    complete = information.complete_information(information.COINS, data, params)
    mis = information.missing_information(information.COINS, data, params)
    g = heads[:, None] / thetas - (tosses - heads)[:, None] / (1 - thetas)
    return resp, complete, mis, g


def _se_variance(resp, g, *, centre=True, per_set=True, cross=True):
    """``sum_i Var(score_i)`` for scores ``g[i, k] e_k`` with probabilities ``resp``, or a mistaken form of it."""
    weighted = resp * g
    second = np.diag(np.sum(resp * g**2, axis=0))
    if not centre:
        return second
    mean_term = weighted.T @ weighted if per_set else np.outer(weighted.sum(axis=0), weighted.sum(axis=0))
    out = second - mean_term
    return out if cross else np.diag(np.diag(out))


@_checker
def check_complete_information(complete_information: Callable) -> None:
    """Check ``complete_information(heads, tosses, resp, thetas) -> I_com`` of shape ``(K, K)``.

    The expected complete-data information of the biases :eq:`se-complete-information`,
    :math:`\\sum_i r_{ik} \\big(h_i / \\theta_k^2 + (n_i - h_i) / (1 - \\theta_k)^2\\big)`
    on the diagonal; the reference is :func:`emtutor.information.complete_information`
    with :data:`emtutor.information.COINS`.
    """
    name = "complete_information"
    _own_work(complete_information, name)
    for case, heads, tosses, weights, thetas in _se_coin_cases():
        resp, expected, _, _ = _se_reference(heads, tosses, weights, thetas)
        got = _call(complete_information, name, case, heads, tosses, resp, thetas)
        h, t = heads[:, None], (tosses - heads)[:, None]
        K = len(thetas)
        _compare(name, "I_com", got, expected, case, [
            ("the sets are not weighted by the responsibilities: coin k's information is "
             "sum_i r_ik (h_i / theta_k^2 + (n_i - h_i) / (1 - theta_k)^2)",
             lambda: np.diag(np.sum(h / thetas**2 + t / (1 - thetas) ** 2, axis=0))),
            ("returned the Hessian of Q; the information is minus the Hessian, positive on the diagonal",
             lambda: -expected),
            ("the tails term (n_i - h_i) / (1 - theta_k)^2 is missing",
             lambda: np.diag(np.sum(resp * h / thetas**2, axis=0))),
            ("the second derivative of h log theta is -h / theta^2: the powers of theta_k and 1 - theta_k "
             "are squared", lambda: np.diag(np.sum(resp * (h / thetas + t / (1 - thetas)), axis=0))),
            ("used the binomial's expected information n_i / (theta_k (1 - theta_k)), which equals I_com "
             "only at a fixed point of EM; use the observed heads h_i",
             lambda: np.diag(np.sum(resp * (h + t) / (thetas * (1 - thetas)), axis=0))),
            ("averaged over the sets; the information is the sum over the sets", lambda: expected / len(heads)),
        ], " = (K, K), diagonal for the coins", shape_hints=[(
            (K,), "returned the diagonal only; return the K x K matrix (np.diag of it)")])


@_checker
def check_missing_information(missing_information: Callable) -> None:
    """Check ``missing_information(heads, tosses, resp, thetas) -> I_mis`` of shape ``(K, K)``.

    The sum over the sets of the conditional variance of the complete-data
    score (Louis' formula :eq:`se-louis`, :eq:`se-discrete-scores`); the
    reference is :func:`emtutor.information.missing_information` with
    :data:`emtutor.information.COINS`.
    """
    name = "missing_information"
    _own_work(missing_information, name)
    for case, heads, tosses, weights, thetas in _se_coin_cases():
        resp, _, expected, g = _se_reference(heads, tosses, weights, thetas)
        got = _call(missing_information, name, case, heads, tosses, resp, thetas)
        K = len(thetas)
        hard = np.eye(K)[np.argmax(resp, axis=1)]
        h, t = heads[:, None], (tosses - heads)[:, None]
        _compare(name, "I_mis", got, expected, case, [
            ("returned E[s s^T]: the variance of the score also subtracts the outer product of its "
             "conditional mean, sum_k r_ik g_ik, set by set", lambda: _se_variance(resp, g, centre=False)),
            ("subtracted the outer product of the score summed over the sets; the variance is taken set "
             "by set, sum_i (E[s_i s_i^T] - E[s_i] E[s_i]^T)", lambda: _se_variance(resp, g, per_set=False)),
            ("kept only the diagonal: the scores of different coins are correlated through the "
             "responsibilities (off-diagonal -r_ij g_ij r_ik g_ik)", lambda: _se_variance(resp, g, cross=False)),
            ("used hard assignments (each set to its most likely coin): then nothing is missing and the "
             "variance is 0; use the responsibilities", lambda: _se_variance(hard, g)),
            ("the score of a set under coin k is h_i / theta_k - (n_i - h_i) / (1 - theta_k): check the sign "
             "of the tails term", lambda: _se_variance(resp, h / thetas + t / (1 - thetas))),
            ("returned minus the missing information; it is a variance, positive semidefinite",
             lambda: -expected),
        ], " = (K, K)", shape_hints=[(
            (K,), "returned the diagonal only; the off-diagonal entries are not zero")])


def _se_linear_map():
    A = np.array([[0.5, 0.2, 0.0], [0.1, 0.3, 0.25], [0.05, 0.0, 0.6]])
    b = np.array([0.3, -0.2, 1.0])
    return (lambda theta: A @ theta + b), np.array([1.0, 2.0, -0.5]), 1e-3


def _se_nonlinear_map():
    def smooth(theta):
        return np.array([0.5 * np.sin(theta[0]) * theta[1], 0.3 * theta[0] ** 2 + np.exp(-theta[1]),
                         np.tanh(theta[0] - theta[1])])[: len(theta)]
    return smooth, np.array([0.7, 1.3]), 1e-3


def _coin_em_map(heads, tosses, weights):
    """One EM iteration of the coins with fixed weights, ``thetas -> thetas``."""
    data = coins.CoinData(heads, tosses)

    def em_map(thetas):
        params = coins.CoinParams(weights, np.asarray(thetas, dtype=float))
        return coins.m_step(data, coins.e_step(data, params)[0], params, learn_weights=False).thetas

    return em_map


def _differences(em_map, theta, h, *, kind="central", all_at_once=False, minus_theta=False, transpose=False,
                 divisor=2.0):
    """The Jacobian of ``em_map`` by differences, or a mistaken form of it."""
    n = len(theta)
    out = np.empty((n, n))
    for i in range(n):
        e = np.full(n, h) if all_at_once else np.eye(n)[i] * h
        up = em_map(theta + e) - (theta + e if minus_theta else 0)
        if kind == "forward":
            down, step = em_map(theta) - (theta if minus_theta else 0), h
        else:
            down, step = em_map(theta - e) - (theta - e if minus_theta else 0), divisor * h
        out[:, i] = (up - down) / step
    return out.T if transpose else out


def _rate_cases():
    paper = _PAPER_HEADS, np.full(5, 10.0), np.array([0.5, 0.5])
    case3 = _se_coin_cases()[3]
    return [
        ("a linear map M(theta) = A theta + b", *_se_linear_map()),
        ("a smooth nonlinear map", *_se_nonlinear_map()),
        ("EM for Do & Batzoglou's coins, at the estimate", _coin_em_map(*paper), _se_paper_estimate(), 1e-5),
        ("EM for three coins, away from the estimate", _coin_em_map(*case3[1:4]), case3[4], 1e-4),
    ]


@_checker
def check_rate_matrix(rate_matrix: Callable) -> None:
    """Check ``rate_matrix(em_map, thetas, h) -> DM`` of shape ``(P, P)``.

    Column ``i`` is the central difference
    :math:`(\\mathcal{M}(\\theta + h e_i) - \\mathcal{M}(\\theta - h e_i)) / (2h)`
    (:eq:`se-dm`): on a linear map it is the map's matrix, on EM's map at its
    fixed point ``inv(I_com) I_mis``. ``em_map`` takes and returns arrays of
    shape ``(P,)``.
    """
    name = "rate_matrix"
    _own_work(rate_matrix, name)
    for case, em_map, theta, h in _rate_cases():
        got = _call(rate_matrix, name, case, em_map, theta, h)
        expected = _differences(em_map, theta, h)
        _compare(name, "DM", got, expected, case, [
            ("rows and columns swapped: DM[:, i] (a column) is the derivative of M(theta) in theta_i",
             lambda: expected.T),
            ("forward differences (M(theta + h e_i) - M(theta)) / h; use central differences "
             "(M(theta + h e_i) - M(theta - h e_i)) / (2 h), whose error is of order h^2",
             lambda: _differences(em_map, theta, h, kind="forward")),
            ("the central difference divides by 2 h, the distance between the two points",
             lambda: _differences(em_map, theta, h, divisor=1.0)),
            ("differentiated M(theta) - theta (which gives DM - I); DM is the derivative of the EM map itself",
             lambda: _differences(em_map, theta, h, minus_theta=True)),
            ("moved every parameter at once; column i moves theta_i alone (theta + h e_i)",
             lambda: _differences(em_map, theta, h, all_at_once=True)),
        ], " = (P, P) for P parameters")


def _bootstrap_cases():
    rng = np.random.default_rng(12)
    tosses = np.full(30, 10.0)
    heads = rng.binomial(10, np.where(rng.random(30) < 0.5, 0.8, 0.35)).astype(float)
    tosses2 = rng.integers(5, 31, size=20).astype(float)
    heads2 = rng.binomial(tosses2.astype(int), np.where(rng.random(20) < 0.3, 0.25, 0.7)).astype(float)
    return [
        ("30 sets of 10 tosses, 40 resamples", heads, tosses, np.array([0.5, 0.5]), np.array([0.7, 0.4]), 40, 0),
        ("20 sets of unequal length, weights (0.3, 0.7), 25 resamples", heads2, tosses2, np.array([0.3, 0.7]),
         np.array([0.3, 0.6]), 25, 7),
    ]


def _coin_fitter(heads, tosses, weights, thetas):
    """``(estimate, fit)``: the estimate on the full data, and ``fit(heads, tosses) -> thetas`` by EM from it."""
    def fit_from(start, heads, tosses):
        data = coins.CoinData(np.asarray(heads, dtype=float), np.asarray(tosses, dtype=float))
        result = run_em(data, coins.CoinParams(weights, start), e_step=coins.e_step,
                        m_step=functools.partial(coins.m_step, learn_weights=False),
                        n_observations=len(data.heads), tol=1e-12, max_iter=10_000)
        return result.params

    estimate = fit_from(np.asarray(thetas, dtype=float), heads, tosses)

    def fit(heads, tosses):
        if np.shape(heads) != np.shape(tosses) or np.ndim(heads) != 1:
            raise ValueError("fit(heads, tosses) takes two arrays of shape (N,): the resampled sets")
        return fit_from(estimate.thetas, heads, tosses).thetas

    return estimate, fit


@_checker
def check_bootstrap_standard_errors(bootstrap_standard_errors: Callable) -> None:
    """Check ``bootstrap_standard_errors(heads, tosses, fit, n_boot, random_state) -> se`` of shape ``(K,)``.

    With ``rng = np.random.default_rng(random_state)``, each of the
    ``n_boot`` resamples takes the sets ``rng.integers(0, N, size=N)`` and
    refits them with ``fit(heads, tosses) -> thetas``; the result is the
    standard deviation of the replicates with divisor ``n_boot - 1``
    (:eq:`se-bootstrap`). The reference is
    :func:`emtutor.information.bootstrap_standard_errors`.
    """
    name = "bootstrap_standard_errors"
    _own_work(bootstrap_standard_errors, name)
    for case, heads, tosses, weights, thetas, n_boot, seed in _bootstrap_cases():
        estimate, fit = _coin_fitter(heads, tosses, weights, thetas)
        got = _call(bootstrap_standard_errors, name, case, heads, tosses, fit, n_boot, seed)
        boot = information.bootstrap_standard_errors(information.COINS, coins.CoinData(heads, tosses), estimate,
                                                     n_boot=n_boot, random_state=seed, tol=1e-12, max_iter=10_000)
        expected, replicates = boot.standard_errors, boot.replicates
        _compare(name, "the standard errors", got, expected, case, [
            ("every replicate is the same, so the spread is 0: draw each resample's sets anew, with "
             "replacement, from one generator (rng.integers(0, N, size=N) for each resample)",
             lambda: np.zeros_like(expected)),
            ("divided by n_boot; the bootstrap standard error divides by n_boot - 1 (ddof=1)",
             lambda: replicates.std(axis=0)),
            ("returned the variance of the replicates; the standard error is its square root",
             lambda: expected**2),
            ("divided by sqrt(n_boot): that is the standard error of the replicates' mean; the standard "
             "error of the estimate is the replicates' standard deviation", lambda: expected / np.sqrt(n_boot)),
            ("returned the mean of the replicates; the standard error is their standard deviation",
             lambda: replicates.mean(axis=0)),
        ], " = (K,)")


class StandardErrorsRun(NamedTuple):
    """What :func:`check_coins_standard_errors` returns: the biases of the paper's coins and their standard errors.

    Attributes
    ----------
    thetas : ndarray of shape (2,)
        The maximum-likelihood estimate (weights fixed at 1/2).
    louis : ndarray of shape (2,)
        Standard errors from ``I_obs = I_com - I_mis`` (Louis).
    sem : ndarray of shape (2,)
        Standard errors from ``I_obs = I_com (I - DM)`` (SEM).
    hessian : ndarray of shape (2,)
        Standard errors from minus the numerical Hessian of the log-likelihood (the oracle).
    complete : ndarray of shape (2,)
        Standard errors if the coins were labelled, from ``I_com``.
    fmi : ndarray of shape (2,)
        Fraction of missing information about each bias, ``1 - complete^2 / louis^2``.
    rate : float
        The largest eigenvalue of ``DM``: EM's rate of convergence.
    bootstrap : ndarray of shape (2,)
        Bootstrap standard errors on 60 simulated sets of 10 tosses (200 resamples).
    bootstrap_louis : ndarray of shape (2,)
        Louis' standard errors on the same simulated sets.
    """

    thetas: np.ndarray
    louis: np.ndarray
    sem: np.ndarray
    hessian: np.ndarray
    complete: np.ndarray
    fmi: np.ndarray
    rate: float
    bootstrap: np.ndarray
    bootstrap_louis: np.ndarray


def _numerical_hessian(f, x, h):
    """Central second differences with steps ``h`` and ``h / 2``, combined by one Richardson extrapolation."""
    def at(h):
        n, E = len(x), np.diag(h)
        return np.array([[(f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j]) + f(x - E[i] - E[j]))
                          / (4 * h[i] * h[j]) for j in range(n)] for i in range(n)])
    return (4 * at(h / 2) - at(h)) / 3


def _se_from(info, fn_name, case):
    try:
        return np.sqrt(np.diag(np.linalg.inv(info)))
    except np.linalg.LinAlgError:
        raise AssertionError(f"{fn_name}: the information is singular  (case: {case})") from None


@_checker
def check_coins_standard_errors(complete_information: Callable, missing_information: Callable,
                                rate_matrix: Callable, bootstrap_standard_errors: Callable) -> StandardErrorsRun:
    """Check the four functions together: standard errors of the paper's two coins.

    Re-runs :func:`check_complete_information`, :func:`check_missing_information`,
    :func:`check_rate_matrix` and :func:`check_bootstrap_standard_errors`
    (this point needs every part right), then, at the maximum-likelihood
    estimate of Do & Batzoglou's coins, compares the observed information by
    Louis (``I_com - I_mis``) and by SEM (``I_com (I - DM)``, ``DM`` from the
    student's ``rate_matrix`` on the EM map) with minus the numerical Hessian
    of the observed-data log-likelihood :func:`emtutor.coins.log_likelihood`,
    an oracle that uses neither (relative difference at most 1e-6), and
    runs the student's bootstrap on 60 simulated sets.

    Returns
    -------
    StandardErrorsRun
    """
    _all_parts([(check_complete_information, complete_information),
                (check_missing_information, missing_information), (check_rate_matrix, rate_matrix),
                (check_bootstrap_standard_errors, bootstrap_standard_errors)])
    heads, tosses, weights = _PAPER_HEADS, np.full(5, 10.0), np.array([0.5, 0.5])
    thetas = _se_paper_estimate()
    case = "Do & Batzoglou's coins at the maximum-likelihood estimate"
    data = coins.CoinData(heads, tosses)
    resp = coins.e_step(data, coins.CoinParams(weights, thetas))[0]
    i_com = _as_array(_call(complete_information, "complete_information", case, heads, tosses, resp, thetas),
                      "complete_information", "I_com", case)
    i_mis = _as_array(_call(missing_information, "missing_information", case, heads, tosses, resp, thetas),
                      "missing_information", "I_mis", case)
    dm = _as_array(_call(rate_matrix, "rate_matrix", case, _coin_em_map(heads, tosses, weights), thetas, 1e-5),
                   "rate_matrix", "DM", case)
    oracle = -_numerical_hessian(lambda th: coins.log_likelihood(data, coins.CoinParams(weights, th)), thetas,
                                 np.full(2, 1e-3))
    scale = np.max(np.abs(oracle))
    for label, observed in (("Louis' I_com - I_mis", i_com - i_mis), ("SEM's I_com (I - DM)", i_com @ (np.eye(2) - dm))):
        gap = np.max(np.abs(observed - oracle)) / scale
        if not gap <= 1e-6:
            raise AssertionError(f"the observed information by {label} differs from minus the numerical Hessian "
                                 f"of the log-likelihood by {gap:.2g} relative  (case: {case})")
    louis = _se_from(i_com - i_mis, "the observed information", case)
    sem = _se_from(i_com @ (np.eye(2) - dm), "the observed information", case)
    complete = _se_from(i_com, "complete_information", case)
    hessian = _se_from(oracle, "the numerical Hessian", case)

    rng = np.random.default_rng(14)
    sim_heads = rng.binomial(10, np.where(rng.random(60) < 0.5, 0.8, 0.45)).astype(float)
    sim_tosses = np.full(60, 10.0)
    estimate, fit = _coin_fitter(sim_heads, sim_tosses, weights, np.array([0.6, 0.5]))
    case = "60 simulated sets of 10 tosses, 200 resamples"
    boot = _as_array(_call(bootstrap_standard_errors, "bootstrap_standard_errors", case, sim_heads, sim_tosses,
                           fit, 200, 0), "bootstrap_standard_errors", "the standard errors", case)
    sim = information.louis_information(information.COINS, coins.CoinData(sim_heads, sim_tosses), estimate)
    return StandardErrorsRun(thetas, louis, sem, hessian, complete,
                             1 - complete**2 / louis**2, float(np.max(np.abs(np.linalg.eigvals(dm)))), boot,
                             sim.standard_errors)
