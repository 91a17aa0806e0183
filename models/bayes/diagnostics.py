"""Convergence gates and posterior predictive checks for the Bayesian models.

A fit is *converged* when every monitored parameter has split R-hat below 1.01, bulk and tail
effective sample sizes above 400 and the sampler reported no divergent transition (Vehtari et
al. 2021). Every result that uses a fit carries its :class:`Diagnostics`; an unconverged fit
gives a :class:`ConvergenceWarning` wherever it is used, and the CLI exits non-zero unless told
``--allow-unconverged``.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Buerkner, P.-C. (2021). Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC. *Bayesian
Analysis* 16(2), 667-718.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import arviz as az
import numpy as np

from pakcast.models.pit import randomized_pit

RHAT_MAX = 1.01
ESS_MIN = 400.0


class ConvergenceWarning(UserWarning):
    """The sampler did not pass the convergence gates; estimates may be wrong."""


@dataclass(frozen=True)
class Diagnostics:
    """Convergence summary of one MCMC fit.

    Attributes
    ----------
    max_rhat, min_ess_bulk, min_ess_tail : float
        Worst split R-hat and smallest bulk / tail ESS over the monitored parameters.
    divergences : int
        Number of divergent transitions after warm-up (all chains).
    n_chains, n_draws : int
        Chains and draws per chain.
    worst : dict
        The parameter behind each worst value (``{"rhat": name, "ess_bulk": name, ...}``).
    rhat_max, ess_min : float
        The thresholds the gate used.
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    n_chains: int
    n_draws: int
    worst: dict = field(default_factory=dict)
    rhat_max: float = RHAT_MAX
    ess_min: float = ESS_MIN

    @property
    def failures(self) -> list[str]:
        """Plain-language list of the gates that failed (empty when converged)."""
        out = []
        if not np.isfinite(self.max_rhat) or self.max_rhat >= self.rhat_max:
            out.append(f"max R-hat {self.max_rhat:.3f} >= {self.rhat_max} ({self.worst.get('rhat')})")
        if not np.isfinite(self.min_ess_bulk) or self.min_ess_bulk <= self.ess_min:
            out.append(f"min bulk ESS {self.min_ess_bulk:.0f} <= {self.ess_min:.0f} ({self.worst.get('ess_bulk')})")
        if not np.isfinite(self.min_ess_tail) or self.min_ess_tail <= self.ess_min:
            out.append(f"min tail ESS {self.min_ess_tail:.0f} <= {self.ess_min:.0f} ({self.worst.get('ess_tail')})")
        if self.divergences > 0:
            out.append(f"{self.divergences} divergent transitions")
        return out

    @property
    def converged(self) -> bool:
        """True when R-hat < 1.01, bulk and tail ESS > 400 and no divergences."""
        return not self.failures

    def message(self) -> str:
        """One line for logs and outputs."""
        if self.converged:
            return (f"converged: max R-hat {self.max_rhat:.3f}, min ESS bulk {self.min_ess_bulk:.0f} / "
                    f"tail {self.min_ess_tail:.0f}, 0 divergences ({self.n_chains} chains x {self.n_draws} draws)")
        return "NOT CONVERGED: " + "; ".join(self.failures) + (
            f" ({self.n_chains} chains x {self.n_draws} draws). Do not use these estimates; "
            "run longer (--draws/--tune), reparameterise, or simplify the model.")

    def warn_if_unconverged(self, what: str = "this fit", stacklevel: int = 2) -> None:
        """Emit a :class:`ConvergenceWarning` naming ``what`` when the gates fail."""
        if not self.converged:
            warnings.warn(f"{what}: {self.message()}", ConvergenceWarning, stacklevel=stacklevel + 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["converged"] = self.converged
        d["failures"] = self.failures
        d["message"] = self.message()
        return d


def _worst(ds, largest: bool) -> tuple[float, str | None]:
    """Worst value over all variables of a diagnostics Dataset; NaN counts as failing."""
    worst_val, worst_name = None, None
    for name, da in ds.data_vars.items():
        v = np.asarray(da.values, dtype=float).ravel()
        if v.size == 0:
            continue
        v = np.where(np.isnan(v), np.inf if largest else -np.inf, v)
        val = float(v.max() if largest else v.min())
        if worst_val is None or (val > worst_val if largest else val < worst_val):
            worst_val, worst_name = val, name
    return (float("nan") if worst_val is None else worst_val), worst_name


def diagnose(idata: az.InferenceData, var_names: Sequence[str] | None = None,
             rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN) -> Diagnostics:
    """Compute the convergence gates of ``idata``'s posterior.

    Parameters
    ----------
    idata : arviz.InferenceData
        Needs a ``posterior`` group; ``sample_stats.diverging`` is used when present.
    var_names : sequence of str, optional
        Parameters to monitor (default: every posterior variable; deterministic transforms of
        well-sampled parameters rarely change the verdict, constant ones are skipped).
    rhat_max, ess_min : float
        Thresholds (defaults 1.01 and 400).
    """
    post = idata.posterior
    names = list(var_names) if var_names is not None else list(post.data_vars)
    # Skip variables that are constant across draws (e.g. a fixed reference level): R-hat is NaN there.
    keep = []
    for n in names:
        v = post[n].values
        if np.nanmax(v) - np.nanmin(v) > 0 or v.size == 0:
            keep.append(n)
    if not keep:
        raise ValueError("diagnose: no varying posterior variable to monitor")
    sub = post[keep]
    rhat = az.rhat(sub, method="rank")
    ess_bulk = az.ess(sub, method="bulk")
    ess_tail = az.ess(sub, method="tail")
    max_rhat, w_rhat = _worst(rhat, True)
    min_bulk, w_bulk = _worst(ess_bulk, False)
    min_tail, w_tail = _worst(ess_tail, False)
    div = 0
    if hasattr(idata, "sample_stats") and "diverging" in idata.sample_stats:
        div = int(np.asarray(idata.sample_stats["diverging"].values).sum())
    return Diagnostics(
        max_rhat=max_rhat, min_ess_bulk=min_bulk, min_ess_tail=min_tail, divergences=div,
        n_chains=int(post.sizes["chain"]), n_draws=int(post.sizes["draw"]),
        worst={"rhat": w_rhat, "ess_bulk": w_bulk, "ess_tail": w_tail},
        rhat_max=rhat_max, ess_min=ess_min,
    )


# --------------------------------------------------------------------------------------------
# posterior predictive checks
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PPCSummary:
    """Posterior predictive calibration of observed counts.

    Attributes
    ----------
    coverage : dict
        ``{level: share of observations inside the central predictive interval}`` (e.g. 0.9 -> 0.91).
    pit : numpy.ndarray
        Randomised PIT values (uniform on [0, 1] when the model is calibrated).
    pit_ks_pvalue : float
        Kolmogorov-Smirnov p-value of the PIT against the uniform distribution.
    n_obs : int
    """

    coverage: dict
    pit: np.ndarray
    pit_ks_pvalue: float
    n_obs: int

    def to_dict(self) -> dict:
        hist, _ = np.histogram(self.pit, bins=10, range=(0.0, 1.0))
        return {"coverage": {str(k): v for k, v in self.coverage.items()}, "pit_ks_pvalue": self.pit_ks_pvalue,
                "pit_histogram_10": hist.tolist(), "n_obs": self.n_obs}


def ppc_summary(y: np.ndarray, samples: np.ndarray, levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
                random_seed: int | None = None) -> PPCSummary:
    """Coverage of the central predictive intervals and PIT for observations ``y`` (n,) given
    predictive draws ``samples`` (n, S); missing observations (NaN) are left out."""
    from scipy import stats

    y = np.asarray(y, dtype=float)
    s = np.asarray(samples, dtype=float)
    ok = np.isfinite(y)
    y, s = y[ok], s[ok]
    cov = {}
    for lev in levels:
        lo = np.quantile(s, (1 - lev) / 2, axis=1)
        hi = np.quantile(s, 1 - (1 - lev) / 2, axis=1)
        cov[float(lev)] = float(np.mean((y >= lo) & (y <= hi)))
    pit = randomized_pit(y, s, random_seed=random_seed)
    p = float(stats.kstest(pit, "uniform").pvalue) if pit.size else float("nan")
    return PPCSummary(coverage=cov, pit=pit, pit_ks_pvalue=p, n_obs=int(y.size))
