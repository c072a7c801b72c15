"""emtutor: reference implementations of the EM algorithm for the emtutor book.

The layout shows the architecture:

* :mod:`emtutor.em`: the one generic EM driver, :func:`~emtutor.em.run_em`;
* one module per model (:mod:`emtutor.gmm`, :mod:`emtutor.bernoulli`, :mod:`emtutor.factor`, :mod:`emtutor.vbgmm`, :mod:`emtutor.coins`,
  :mod:`emtutor.hmm` with its inference core :mod:`emtutor.hmm_core`,
  :mod:`emtutor.missing`, :mod:`emtutor.lda`, :mod:`emtutor.tmix`), each with pure ``e_step``
  and ``m_step`` functions named after the book's equations and a ``fit``
  that runs them with the driver;
* :mod:`emtutor.map_gmm`: MAP-EM for Gaussian mixtures with conjugate
  priors (Dirichlet, normal-inverse-Wishart), monotone in the log-posterior;
* :mod:`emtutor.accelerate`: EM's rate of convergence and an accelerated
  driver (SQUAREM, Aitken, quasi-Newton) for every model, monotone like EM;
* :mod:`emtutor.estimators`: a scikit-learn-compatible estimator for each
  model (re-exported here), on top of the model modules;
* :mod:`emtutor.online`: incremental EM, stochastic (online) EM and online
  variational Bayes for LDA, which look at a part of the data at a time;
* :mod:`emtutor.information`: standard errors after EM (Louis' method,
  SEM, the bootstrap) for the normal with missing values, Gaussian
  mixtures and the coins;
* helpers for the book: :mod:`emtutor.elbo`, :mod:`emtutor.datasets`,
  :mod:`emtutor.plotting`, :mod:`emtutor.widgets`, :mod:`emtutor.checks`.
"""

from . import accelerate, bernoulli, checks, coins, datasets, elbo, em, estimators, factor, gibbs_lda, gmm, hmm, hmm_core, information, lda, map_gmm, mapreduce, missing, online, plotting, tmix, vbgmm, widgets
from .em import ConvergenceWarning, EMResult, LikelihoodDecreaseError, NotFittedError, run_em
from .estimators import (BayesianGaussianMixture, BernoulliMixture, CategoricalHMM, FactorAnalysis, GaussianHMM,
                         GaussianMixture, LatentDirichletAllocation, MissingNormal, ProbabilisticPCA,
                         StudentTMixture)

__version__ = "0.1.0"

__all__ = [
    # the generic driver
    "run_em",
    "EMResult",
    "ConvergenceWarning",
    "LikelihoodDecreaseError",
    "NotFittedError",
    # estimators
    "GaussianMixture",
    "BernoulliMixture",
    "BayesianGaussianMixture",
    "FactorAnalysis",
    "ProbabilisticPCA",
    "CategoricalHMM",
    "GaussianHMM",
    "LatentDirichletAllocation",
    "MissingNormal",
    "StudentTMixture",
    # modules
    "accelerate",
    "bernoulli",
    "checks",
    "coins",
    "datasets",
    "elbo",
    "em",
    "estimators",
    "factor",
    "gibbs_lda",
    "gmm",
    "hmm",
    "hmm_core",
    "information",
    "lda",
    "map_gmm",
    "mapreduce",
    "missing",
    "online",
    "plotting",
    "tmix",
    "vbgmm",
    "widgets",
]
