"""pakcast statistics: count likelihoods, GLMs, ITS, break tests, Bayesian and self-exciting models.

Pure functions and small estimator classes over numpy / pandas / xarray. This package never
imports :mod:`forecast` (the pipeline); everything Pakistan-specific lives there.
"""
