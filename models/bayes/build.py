"""Pure model builders: ``build_*(data, coords, priors) -> pm.Model``.

Each builder takes plain arrays (``data``), the coordinate labels (``coords``) and a prior
dictionary (merged over the module defaults) and returns an unsampled ``pm.Model``. No file,
province or calendar logic lives here: :mod:`models.bayes.its`, :mod:`models.bayes.severity`
and :mod:`models.bayes.changepoint` prepare the arrays.

Negative-binomial parameterisation: pakcast uses NB2 with mean :math:`\\mu` and dispersion
:math:`\\alpha`, :math:`\\operatorname{Var}(y) = \\mu + \\alpha\\mu^2`. PyMC's
``pm.NegativeBinomial(mu, alpha)`` calls the *shape* :math:`1/\\alpha` "alpha", so the builders
pass ``alpha=1/alpha_nb2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

Pooling = Literal["partial", "complete", "none"]
Likelihood = Literal["native", "numba"]
ZeroModel = Literal["none", "zinb", "hurdle"]
Latent = Literal["none", "ar1", "rw"]

#: Default priors of the hierarchical NB ITS (log scale; slopes per year; ``(mean, sd)`` or ``sd``).
DEFAULT_ITS_PRIORS: dict[str, Any] = {
    "intercept_sd": 1.0,          # around the data-centred log rate (intercept_center)
    "intercept_sigma": 1.5,       # HalfNormal scale of the spread of province baselines
    "trend_sd": 0.1,              # national log-rate trend per year
    "trend_sigma": 0.05,          # spread of province trends
    "level_sd": 0.75,             # national level change at each break (log rate ratio)
    "level_sigma": 0.5,           # spread of province level changes
    "slope_sd": 0.1,              # national slope change per year after each break
    "slope_sigma": 0.05,          # spread of province slope changes
    "season_sd": 0.5,             # Fourier coefficients
    "beta_sd": 0.5,               # covariate coefficients (standardised covariates)
    "log_alpha_mu": 0.0,          # NB2 log dispersion: Normal(mu, sd)
    "log_alpha_sd": 1.0,
    "latent_sigma": 0.3,          # HalfNormal scale of the AR(1)/RW innovation
    "psi_a": 2.0, "psi_b": 2.0,   # Beta prior of the non-zero share (zinb / hurdle)
}

#: Default priors of the frequency-severity model of deaths per attack.
DEFAULT_SEVERITY_PRIORS: dict[str, Any] = {
    "mu_center": 1.0,             # log mean deaths per attack (overridden by data centring)
    "mu_sd": 1.5,
    "sigma": 0.75,                # HalfNormal scale of province spread
    "log_alpha_mu": 0.0,
    "log_alpha_sd": 1.5,
}

#: Default priors of the change-point model (rates in counts per period).
DEFAULT_CHANGEPOINT_PRIORS: dict[str, Any] = {
    "rate_prior": "exponential",  # "exponential" (rate_scale = mean) or "lognormal" (data-centred)
    "rate_scale": None,           # None: the mean of the series
    "log_rate_sd": 2.0,
    "log_alpha_mu": 0.0,
    "log_alpha_sd": 1.5,
}


def _merge(defaults: Mapping[str, Any], priors: Mapping[str, Any] | None) -> dict[str, Any]:
    p = dict(defaults)
    if priors:
        unknown = set(priors) - set(defaults) - {"intercept_center"}
        if unknown:
            raise ValueError(f"unknown prior names {sorted(unknown)}; known: {sorted(defaults)}")
        p.update(priors)
    return p


def _nb_numba_logp():
    """The summed NB2 log-likelihood Op ``nb_logp(y, eta, log_alpha)`` from
    :mod:`models.likelihood.pytensor_ops` (Numba kernel with exact gradient)."""
    from pakcast.models.likelihood.pytensor_ops import nb_logp

    return nb_logp


def _count_likelihood(name: str, y: np.ndarray, eta, log_alpha, *, likelihood: Likelihood,
                      zero_model: ZeroModel = "none", psi=None, dims=None):
    """Observed NB2 counts with log mean ``eta`` and NB2 log dispersion ``log_alpha``."""
    if likelihood not in ("native", "numba"):
        raise ValueError(f"likelihood must be 'native' or 'numba', got {likelihood!r}")
    if likelihood == "numba":
        if zero_model != "none":
            raise ValueError("likelihood='numba' supports the plain NB2 model only (zero_model='none')")
        nb_logp = _nb_numba_logp()
        # the Op returns the summed log-likelihood: a potential (no pointwise log-likelihood, so no LOO)
        return pm.Potential(f"{name}_loglik", nb_logp(np.asarray(y, dtype=float), eta, log_alpha))
    shape = pt.exp(-log_alpha)  # PyMC's alpha = 1 / NB2 alpha
    mu = pt.exp(eta)
    if zero_model == "none":
        return pm.NegativeBinomial(name, mu=mu, alpha=shape, observed=y, dims=dims)
    if zero_model == "zinb":
        return pm.ZeroInflatedNegativeBinomial(name, psi=psi, mu=mu, alpha=shape, observed=y, dims=dims)
    if zero_model == "hurdle":
        return pm.HurdleNegativeBinomial(name, psi=psi, mu=mu, alpha=shape, observed=y, dims=dims)
    raise ValueError(f"zero_model must be 'none', 'zinb' or 'hurdle', got {zero_model!r}")


def _hier(name: str, dims: tuple[str, ...], mu_prior: tuple[str, float, float, tuple[str, ...] | None],
          sigma_scale: float, pooling: Pooling, centered: bool = False):
    r"""Unit effects: partial pooling, complete pooling, or none.

    ``mu_prior = (name, mean, sd, dims)`` is the national mean's Normal prior.
    partial: :math:`\theta_{g} = \mu + \sigma z_{g}`, :math:`z_g \sim N(0,1)`, :math:`\sigma \sim N^+(s)`
    (non-centred; ``centered=True`` samples :math:`\theta_g \sim N(\mu, \sigma)` directly, better when
    every group's data identify its parameter well, as for baselines).
    complete: :math:`\theta_g = \mu`. none: independent :math:`\theta_g \sim N(\text{mean}, \text{sd})`
    (no national parameter).
    """
    mu_name, mu_mean, mu_sd, mu_dims = mu_prior
    if pooling == "none":
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims)
        return pm.Deterministic(name, mu_mean + mu_sd * z, dims=dims)
    mu = pm.Normal(mu_name, mu_mean, mu_sd, dims=mu_dims)
    if pooling == "partial":
        sigma = pm.HalfNormal(f"{name}_sigma", sigma=sigma_scale, dims=dims[1:] or None)
        if centered:
            return pm.Normal(name, mu, sigma, dims=dims)
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims)
        return pm.Deterministic(name, mu + sigma * z, dims=dims)
    if pooling == "complete":
        shape = tuple(len(pm.modelcontext(None).coords[d]) for d in dims)
        return pm.Deterministic(name, mu + pt.zeros(shape), dims=dims)
    raise ValueError(f"pooling must be 'partial', 'complete' or 'none', got {pooling!r}")


def build_hierarchical_its(data: Mapping[str, np.ndarray], coords: Mapping[str, Any],
                           priors: Mapping[str, Any] | None = None, *, pooling: Pooling = "partial",
                           likelihood: Likelihood = "native", zero_model: ZeroModel = "none",
                           latent: Latent = "none") -> pm.Model:
    r"""Hierarchical negative-binomial interrupted time series (unit x time counts).

    .. math::

        y_{ut} &\sim \mathrm{NB2}(\mu_{ut}, \alpha), \qquad
        \log \mu_{ut} = o_{ut} + a_u + b_u t + \sum_k \big(\ell_{uk} S_{kt} + s_{uk} R_{kt}\big)
                        + f_t^\top \gamma + x_{ut}^\top \beta + z_t \\
        a_u &\sim N(a_0, \sigma_a),\quad b_u = b_0 + \sigma_b \tilde b_u,\quad
        \ell_{uk} = \ell_{0k} + \sigma_{\ell k} \tilde\ell_{uk},\quad
        s_{uk} = s_{0k} + \sigma_{sk} \tilde s_{uk},\quad \tilde\cdot \sim N(0, 1)

    with :math:`o` the log exposure (population offset), :math:`t` in years, :math:`S_{kt}`
    the step (1 after break :math:`k`), :math:`R_{kt}` the ramp (years since break :math:`k`),
    :math:`f_t` Fourier terms of the month of year, optional covariates :math:`x` and an
    optional national latent term :math:`z_t` (AR(1) or random walk, non-centred). National
    effects :math:`\ell_{0k}` and :math:`s_{0k}` are the pooled break effects; province effects
    shrink towards them (``pooling="partial"``), equal them (``"complete"``) or are
    independent (``"none"``). ``zero_model`` adds zero inflation or a hurdle with a
    province-specific non-zero share :math:`\psi_u`.

    Parameters
    ----------
    data : mapping
        ``y`` (U, T) counts, NaN for missing; ``offset`` (U, T) log exposure; ``t`` (T,) years;
        ``step`` and ``ramp`` (K, T); ``fourier`` (T, F); optional ``X`` (U, T, C);
        ``intercept_center`` (float, the data-centred prior mean of :math:`a_0`).
    coords : mapping
        ``unit``, ``time``, ``break``, ``fourier`` and (with ``X``) ``covariate`` labels.
    priors : mapping, optional
        Overrides of :data:`DEFAULT_ITS_PRIORS`.
    pooling, likelihood, zero_model, latent
        Model variants (see above); ``likelihood="numba"`` uses the Numba NB2 Op.

    Returns
    -------
    pymc.Model
        Observed variable ``y`` on the non-missing cells (dim ``obs``); deterministics
        ``intercept (unit)``, ``trend (unit)``, ``level (unit, break)``, ``slope (unit, break)``.
    """
    p = _merge(DEFAULT_ITS_PRIORS, priors)
    y = np.asarray(data["y"], dtype=float)
    U, T = y.shape
    offset = np.broadcast_to(np.asarray(data.get("offset", 0.0), dtype=float), (U, T))
    t = np.asarray(data["t"], dtype=float)
    step = np.asarray(data["step"], dtype=float).reshape(-1, T)
    ramp = np.asarray(data["ramp"], dtype=float).reshape(-1, T)
    fourier = np.asarray(data["fourier"], dtype=float).reshape(T, -1)
    X = data.get("X")
    K = step.shape[0]
    if t.shape != (T,):
        raise ValueError(f"t must have shape ({T},), got {t.shape}")
    obs_u, obs_t = np.nonzero(np.isfinite(y))
    y_obs = y[obs_u, obs_t].astype(np.int64)
    if np.any(y_obs < 0):
        raise ValueError("y must be non-negative counts")
    center = float(p.get("intercept_center", data.get("intercept_center", 0.0)))
    c = dict(coords)
    c["obs"] = np.arange(y_obs.size)
    with pm.Model(coords=c) as model:
        # baselines are well identified per unit: centred (the non-centred form mixed badly for
        # intercept_mu on the shipped panel); trends and break effects: non-centred (a small
        # spread of trends gave a funnel in the centred form on simulated panels)
        intercept = _hier("intercept", ("unit",), ("intercept_mu", center, p["intercept_sd"], None),
                          p["intercept_sigma"], pooling, centered=True)
        trend = _hier("trend", ("unit",), ("trend_mu", 0.0, p["trend_sd"], None), p["trend_sigma"], pooling)
        if K:
            level = _hier("level", ("unit", "break"), ("level_mu", 0.0, p["level_sd"], ("break",)),
                          p["level_sigma"], pooling)
            slope = _hier("slope", ("unit", "break"), ("slope_mu", 0.0, p["slope_sd"], ("break",)),
                          p["slope_sigma"], pooling)
        eta = (pt.as_tensor(offset[obs_u, obs_t]) + intercept[obs_u] + trend[obs_u] * t[obs_t])
        if K:
            eta = eta + (level[obs_u] * step.T[obs_t]).sum(axis=-1) + (slope[obs_u] * ramp.T[obs_t]).sum(axis=-1)
        if fourier.shape[1]:
            gamma = pm.Normal("season", 0.0, p["season_sd"], dims="fourier")
            eta = eta + pt.dot(pt.as_tensor(fourier[obs_t]), gamma)
        if X is not None:
            X = np.asarray(X, dtype=float)
            if X.shape[:2] != (U, T):
                raise ValueError(f"X must have shape ({U}, {T}, C), got {X.shape}")
            beta = pm.Normal("beta", 0.0, p["beta_sd"], dims="covariate")
            eta = eta + pt.dot(pt.as_tensor(X[obs_u, obs_t]), beta)
        if latent != "none":
            sigma_z = pm.HalfNormal("latent_sigma", p["latent_sigma"])
            e = pm.Normal("latent_innov", 0.0, 1.0, dims="time")
            if latent == "rw":
                z = pt.cumsum(sigma_z * e) - sigma_z * e[0]  # z_0 = 0: the intercept carries the level
            elif latent == "ar1":
                rho = pm.Uniform("latent_rho", -0.99, 0.99)
                lag = np.subtract.outer(np.arange(T), np.arange(T)).astype(float)
                lower = lag >= 0
                L = pt.switch(lower, rho ** pt.as_tensor(np.where(lower, lag, 0.0)), 0.0)
                scale = pt.concatenate([pt.reshape(1.0 / pt.sqrt(1.0 - rho**2), (1,)), pt.ones(T - 1)])
                z = pt.dot(L, sigma_z * scale * e)
            else:
                raise ValueError(f"latent must be 'none', 'ar1' or 'rw', got {latent!r}")
            z = pm.Deterministic("latent", z, dims="time")
            eta = eta + z[obs_t]
        log_alpha = pm.Normal("log_alpha", p["log_alpha_mu"], p["log_alpha_sd"])
        psi = None
        if zero_model != "none":
            psi = pm.Beta("psi", p["psi_a"], p["psi_b"], dims="unit")[obs_u]
        _count_likelihood("y", y_obs, eta, log_alpha, likelihood=likelihood, zero_model=zero_model, psi=psi,
                          dims="obs")
    model._pakcast_obs_index = (obs_u, obs_t)  # used by the results to map observations back
    return model


def build_severity(data: Mapping[str, np.ndarray], coords: Mapping[str, Any],
                   priors: Mapping[str, Any] | None = None, *, pooling: Pooling = "partial",
                   likelihood: Likelihood = "native", centered: bool = False) -> pm.Model:
    r"""Deaths per attack, pooled across provinces, fitted on the province-month aggregates.

    Each attack's deaths are NB2 with province mean :math:`m_u` and shape :math:`r = 1/\alpha`;
    the sum of :math:`n` independent such attacks is exactly
    :math:`\mathrm{NB}(\text{mean } n m_u,\ \text{shape } n r)`, so the killed total of a cell
    with :math:`n_{ut} > 0` attacks has

    .. math::

        k_{ut} \mid n_{ut} &\sim \mathrm{NB2}\big(n_{ut} m_u,\ \alpha / n_{ut}\big), \qquad
        \log m_u = m_0 + \sigma_m \tilde m_u,\ \tilde m_u \sim N(0, 1).

    Parameters
    ----------
    data : mapping
        ``killed`` (N,) and ``attacks`` (N,) for cells with at least one attack, ``unit_idx`` (N,).
    coords : mapping
        ``unit`` labels.
    """
    p = _merge(DEFAULT_SEVERITY_PRIORS, priors)
    killed = np.asarray(data["killed"], dtype=np.int64)
    n = np.asarray(data["attacks"], dtype=float)
    u = np.asarray(data["unit_idx"], dtype=np.int64)
    if np.any(n <= 0):
        raise ValueError("build_severity: every cell needs attacks > 0 (cells without attacks carry no severity)")
    center = float(p.get("intercept_center", data.get("intercept_center", p["mu_center"])))
    c = dict(coords)
    c["obs"] = np.arange(killed.size)
    with pm.Model(coords=c) as model:
        log_m = _hier("log_mean_deaths", ("unit",), ("log_mean_deaths_mu", center, p["mu_sd"], None), p["sigma"],
                      pooling, centered=centered)
        pm.Deterministic("mean_deaths", pt.exp(log_m), dims="unit")
        log_alpha = pm.Normal("log_alpha", p["log_alpha_mu"], p["log_alpha_sd"])
        eta = pt.log(n) + log_m[u]
        _count_likelihood("killed", killed, eta, log_alpha - pt.log(n), likelihood=likelihood, dims="obs")
    return model


def build_changepoint(data: Mapping[str, np.ndarray], coords: Mapping[str, Any] | None = None,
                      priors: Mapping[str, Any] | None = None, *, family: Literal["poisson", "negbin"] = "poisson"
                      ) -> pm.Model:
    r"""Single change point in the rate of a count series, switchpoint marginalised exactly.

    .. math::

        y_t &\sim \mathrm{Count}(\lambda_1) \ (t \le \tau), \qquad y_t \sim \mathrm{Count}(\lambda_2)\ (t > \tau),
        \qquad \tau \sim \mathrm{Uniform}\{0, \dots, T - 2\} \\
        p(y \mid \lambda_1, \lambda_2) &= \frac{1}{T - 1} \sum_{\tau=0}^{T-2}
            \exp\Big(\sum_{t \le \tau} \log p(y_t \mid \lambda_1) + \sum_{t > \tau} \log p(y_t \mid \lambda_2)\Big)

    computed with cumulative sums in :math:`O(T)` and added as a potential, so NUTS samples the
    continuous rates; :math:`\tau` is the last period of the first regime. Missing values (NaN)
    add nothing to either sum. ``Count`` is Poisson or NB2 (shared dispersion).

    Parameters
    ----------
    data : mapping
        ``y`` (T,) counts (NaN for missing).
    priors : mapping, optional
        Overrides of :data:`DEFAULT_CHANGEPOINT_PRIORS`. The default rate prior is
        ``Exponential(1 / rate_scale)`` with ``rate_scale`` the series mean (the PyMC docs
        coal example uses ``Exponential(1)``: pass ``{"rate_scale": 1.0}``).

    Returns
    -------
    pymc.Model
        Free variables ``rate_before``, ``rate_after`` (and ``log_alpha``); deterministic
        ``switchpoint_logp`` (T - 1,), the unnormalised log posterior of each switchpoint
        given the rates, from which :mod:`models.bayes.changepoint` derives the exact posterior.
    """
    p = _merge(DEFAULT_CHANGEPOINT_PRIORS, priors)
    y = np.asarray(data["y"], dtype=float)
    if y.ndim != 1 or y.size < 3:
        raise ValueError(f"build_changepoint: y must be a 1-d series of at least 3 periods, got shape {y.shape}")
    ok = np.isfinite(y)
    if ok.sum() < 2:
        raise ValueError("build_changepoint: need at least 2 observed periods")
    yv = np.where(ok, y, 0.0)
    if np.any(yv < 0) or np.any(yv != np.round(yv)):
        raise ValueError("build_changepoint: y must be non-negative integer counts")
    T = y.size
    scale = float(p["rate_scale"]) if p["rate_scale"] is not None else max(float(np.nanmean(y)), 1e-3)
    c = dict(coords or {})
    c.setdefault("switch", np.arange(T - 1))
    with pm.Model(coords=c) as model:
        if p["rate_prior"] == "exponential":
            r1 = pm.Exponential("rate_before", 1.0 / scale)
            r2 = pm.Exponential("rate_after", 1.0 / scale)
        elif p["rate_prior"] == "lognormal":
            r1 = pm.LogNormal("rate_before", np.log(scale), p["log_rate_sd"])
            r2 = pm.LogNormal("rate_after", np.log(scale), p["log_rate_sd"])
        else:
            raise ValueError(f"rate_prior must be 'exponential' or 'lognormal', got {p['rate_prior']!r}")
        yt = pt.as_tensor(yv)
        if family == "poisson":
            lp1 = pm.logp(pm.Poisson.dist(mu=r1), yt)
            lp2 = pm.logp(pm.Poisson.dist(mu=r2), yt)
        elif family == "negbin":
            log_alpha = pm.Normal("log_alpha", p["log_alpha_mu"], p["log_alpha_sd"])
            shape = pt.exp(-log_alpha)
            lp1 = pm.logp(pm.NegativeBinomial.dist(mu=r1, alpha=shape), yt)
            lp2 = pm.logp(pm.NegativeBinomial.dist(mu=r2, alpha=shape), yt)
        else:
            raise ValueError(f"family must be 'poisson' or 'negbin', got {family!r}")
        mask = pt.as_tensor(ok.astype(float))
        c1 = pt.cumsum(lp1 * mask)
        c2 = pt.cumsum(lp2 * mask)
        # tau = 0..T-2: first regime is t <= tau
        ll_tau = c1[:-1] + (c2[-1] - c2[:-1])
        sw = pm.Deterministic("switchpoint_logp", ll_tau - np.log(T - 1), dims="switch")
        pm.Potential("marginal_likelihood", pm.math.logsumexp(sw))
    return model
