"""emtutor: reference implementations of the EM algorithm for the emtutor book.

Every model module (:mod:`emtutor.gmm`, ...) supplies pure ``e_step``,
``m_step`` and ``log_likelihood`` functions named after the book's
equations and a ``fit`` that runs them with the one generic driver
:func:`emtutor.em.run_em`.
"""

from . import datasets, em, gmm, hmm, hmm_core, plotting
from . import elbo, coins
from .em import ConvergenceWarning, EMResult, LikelihoodDecreaseError, run_em
from .hmm import CategoricalHMM, GaussianHMM

__version__ = "0.1.0"

__all__ = [
    "CategoricalHMM",
    "ConvergenceWarning",
    "EMResult",
    "GaussianHMM",
    "LikelihoodDecreaseError",
    "run_em",
    "datasets",
    "em",
    "gmm",
    "hmm",
    "hmm_core",
    "plotting",
    "elbo",
    "coins",
]
