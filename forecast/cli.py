"""pakcast command-line interface.

A thin layer: each command in :mod:`forecast.commands` parses its options, validates the
configuration, calls one library function and writes its outputs. No statistics here.
"""

from __future__ import annotations

from pakcast.forecast._cli_app import app
from pakcast.forecast.commands import (  # noqa: F401  (importing registers the commands)
    attribute,
    bayes,
    breaks,
    data,
    fetch,
    fuse,
    hawkes,
    quarterly,
    report,
    reported,
    reliability,
)


def main() -> None:
    """Console-script entry point (third-party deprecation notices, e.g. ArviZ's FutureWarning, are not the
    user's to act on and are kept out of the console; ``python -W default -m pakcast`` shows them)."""
    import sys
    import warnings

    if not sys.warnoptions:
        for module in ("arviz", "pymc", "pytensor", "xarray", "numba", "dask", "statsmodels"):
            warnings.filterwarnings("ignore", category=FutureWarning, module=module)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    app()


if __name__ == "__main__":
    main()
