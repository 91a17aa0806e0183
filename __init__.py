"""pakcast: statistical forecasting and causal analysis of political violence.

The installed package has one import name, ``pakcast``:

* :mod:`pakcast.models` - statistics (count likelihoods, GLMs, ITS, break tests, Bayesian,
  self-exciting and measurement models) over numpy / pandas / xarray; knows no files or country;
* :mod:`pakcast.forecast` - the pipeline (sources, validation, panels, store, backtests, the
  quarterly run, studies, briefings, the CLI);
* :mod:`pakcast.data` - the shipped derived tables; :mod:`pakcast.templates` - report templates.

In the repository the folders sit at the top (``forecast/``, ``models/``, ``data/``); this file is
the package root (``[tool.setuptools.package-dir] pakcast = "."``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pakcast")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
