"""emtutor: reference implementations of the EM algorithm for the emtutor book.

Every model module (:mod:`emtutor.gmm`, ...) supplies pure ``e_step``,
``m_step`` and ``log_likelihood`` functions named after the book's
equations and a ``fit`` that runs them with the one generic driver
:func:`emtutor.em.run_em`.
"""

from . import checks, coins, datasets, elbo, em, gmm, hmm, hmm_core, lda, missing, mixture, plotting, widgets
from .em import ConvergenceWarning, EMResult, LikelihoodDecreaseError, NotFittedError, run_em
from .hmm import CategoricalHMM, GaussianHMM
from .lda import LatentDirichletAllocation
from .missing import MissingNormal
from .mixture import GaussianMixture

__version__ = "0.1.0"

__all__ = [
    # the generic driver
    "run_em",
    "EMResult",
    "ConvergenceWarning",
    "LikelihoodDecreaseError",
    # estimators
    "GaussianMixture",
    "NotFittedError",
    "CategoricalHMM",
    "GaussianHMM",
    "LatentDirichletAllocation",
    "MissingNormal",
    # modules
    "checks",
    "coins",
    "datasets",
    "elbo",
    "em",
    "gmm",
    "hmm",
    "hmm_core",
    "lda",
    "missing",
    "mixture",
    "plotting",
    "widgets",
]
