"""A disk cache of measurement-model fits, keyed by exactly what determines them.

The key is the SHA-256 of the observation table fitted (every row: source, metric, measure,
cover, first, last, value), the latent units and months, the fit options (reference units,
draws, tune, chains, seed, known-date effects) and the source text of the model and its sampler
(``models/fusion/model.py``, ``models/fusion/_kernel.py``): any change to the data, the options or
the model is a different key, so a stale fit is never reused (``results.py`` only reads the
posterior, so its methods are those of the current code). An entry that no longer loads is refitted. Entries are pickles of the :class:`~pakcast.forecast.fusion.FusionRun`
(the per-draw latent arrays are dropped before writing and rebuilt on use). The cache directory is
``$PAKCAST_FUSION_CACHE`` or ``<user cache dir>/pakcast/fusion``; it holds only files this code
wrote (never load a cache directory you did not create: pickles execute code when read).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "fit_cached", "fit_key"]


def cache_dir(path: str | Path | None = None) -> Path:
    """``path``, else ``$PAKCAST_FUSION_CACHE``, else ``<user cache dir>/pakcast/fusion``."""
    if path is not None:
        return Path(path)
    if os.environ.get("PAKCAST_FUSION_CACHE"):
        return Path(os.environ["PAKCAST_FUSION_CACHE"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("pakcast")) / "fusion"


def _code_digest() -> str:
    here = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in (here / "models" / "fusion" / "model.py", here / "models" / "fusion" / "_kernel.py"):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def fit_key(config: Any, table: Any) -> str:
    """SHA-256 (hex) of the fitted table, units, months, fit options and model code."""
    f = table.frame
    cols = ["source", "metric", "measure", "cover", "first", "last", "value"]
    rows = sorted("|".join(str(v) for v in r) for r in zip(*(f[c].map(str) if c == "cover" else f[c].astype(str)
                                                              for c in cols)))
    h = hashlib.sha256()
    for part in (*rows, ",".join(table.units), str(table.months[0]), str(table.months[-1]),
                 repr((config.units, config.draws, config.tune, config.chains, config.random_seed,
                       sorted(getattr(config, "effects", {}).items()))), _code_digest()):
        h.update(part.encode())
        h.update(b"\n")
    return h.hexdigest()


def _drop_cached(obj: Any) -> None:
    for name, attr in vars(type(obj)).items():
        if isinstance(attr, cached_property):
            obj.__dict__.pop(name, None)


def fit_cached(config: Any, table: Any, cache: str | Path | None | bool = None) -> Any:
    """:func:`pakcast.forecast.fusion.fit_fusion` of ``table``, read from the cache when the same fit
    was made before (``cache=False``: no cache). The run's ``seconds["cached"]`` says which."""
    from pakcast.forecast.fusion import fit_fusion

    if cache is False:
        return fit_fusion(config, table)
    d = cache_dir(None if cache in (None, True) else cache)
    path = d / f"{fit_key(config, table)}.pkl"
    if path.exists():
        try:
            with open(path, "rb") as fh:
                fr = pickle.load(fh)
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, TypeError):
            fr = None
        if fr is not None:
            fr.seconds = {**fr.seconds, "cached": True}
            fr.config = config
            return fr
    fr = fit_fusion(config, table)
    _drop_cached(fr.results)
    d.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(fr, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    fr.seconds = {**fr.seconds, "cached": False}
    return fr
