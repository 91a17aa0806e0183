"""A disk cache of measurement-model fits, keyed by exactly what determines them.

The key is the SHA-256 of the observation table fitted (every row: source, metric, measure,
cover, first, last, value), the latent units and months, the fit options (reference units,
draws, tune, chains, seed, the known-date steps the fit uses) and the source text of the model and its sampler
(``models/fusion/model.py``, ``models/fusion/_kernel.py``): any change to the data, the options or
the model is a different key, so a stale fit is never reused (``results.py`` only reads the
posterior, so its methods are those of the current code). An entry that no longer loads is refitted.
An entry is the fit's ``arviz.InferenceData`` as netCDF (``<key>.nc``) and a small JSON
(``<key>.json``: reference units, the reason, timings); on use the model is rebuilt from the table
(:func:`pakcast.forecast.fusion.build_model`, nothing sampled) and the results from the posterior,
so nothing executable is ever read from disk. The cache directory is ``$PAKCAST_FUSION_CACHE`` or
``<user cache dir>/pakcast/fusion``.
"""

from __future__ import annotations

import hashlib
import json
import os
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
    from pakcast.forecast.fusion import model_effects

    f = table.frame
    cols = ["source", "metric", "measure", "cover", "first", "last", "value"]
    rows = sorted("|".join(str(v) for v in r) for r in zip(*(f[c].map(str) if c == "cover" else f[c].astype(str)
                                                              for c in cols)))
    h = hashlib.sha256()
    for part in (*rows, ",".join(table.units), str(table.months[0]), str(table.months[-1]),
                 repr((config.units, config.draws, config.tune, config.chains, config.random_seed,
                       sorted(model_effects(config, table).items()))), _code_digest()):
        h.update(part.encode())
        h.update(b"\n")
    return h.hexdigest()


def _load(config: Any, table: Any, nc: Path, meta: Path) -> Any:
    """The cached :class:`~pakcast.forecast.fusion.FusionRun`, or ``None`` when the entry does not load."""
    import arviz as az

    from pakcast.forecast.fusion import FusionRun, build_model
    from pakcast.models.fusion.results import FusionResults

    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        idata = az.from_netcdf(nc)
        for g in idata.groups():
            idata[g].load()
        model, units, reason = build_model(config, table)
        if units != info["units"]:
            return None
        res = FusionResults(model, idata, random_seed=config.random_seed)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return FusionRun(config=config, table=table, units=units, units_reason=info.get("units_reason", reason),
                     results=res, seconds={**info.get("seconds", {}), "cached": True})


def fit_cached(config: Any, table: Any, cache: str | Path | None | bool = None) -> Any:
    """:func:`pakcast.forecast.fusion.fit_fusion` of ``table``, read from the cache when the same fit
    was made before (``cache=False``: no cache). The run's ``seconds["cached"]`` says which."""
    from pakcast.forecast.fusion import fit_fusion

    if cache is False:
        return fit_fusion(config, table)
    d = cache_dir(None if cache in (None, True) else cache)
    key = fit_key(config, table)
    nc, meta = d / f"{key}.nc", d / f"{key}.json"
    if nc.exists() and meta.exists():
        fr = _load(config, table, nc, meta)
        if fr is not None:
            return fr
    fr = fit_fusion(config, table)
    d.mkdir(parents=True, exist_ok=True)
    tmp_nc, tmp_meta = nc.with_suffix(f".tmp{os.getpid()}.nc"), meta.with_suffix(f".tmp{os.getpid()}.json")
    fr.results.idata.to_netcdf(str(tmp_nc))
    tmp_meta.write_text(json.dumps({"units": fr.units, "units_reason": fr.units_reason,
                                    "seconds": {k: float(v) for k, v in fr.seconds.items()}}), encoding="utf-8")
    os.replace(tmp_nc, nc)
    os.replace(tmp_meta, meta)
    fr.seconds = {**fr.seconds, "cached": False}
    return fr
