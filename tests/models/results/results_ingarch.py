"""Reference setup for the INGARCH tests: the Campylobacter example of tscount.

Source: Liboschik, Fokianos & Fried (2017), "tscount: An R Package for Analysis of Count Time
Series Following Generalized Linear Models", J. Stat. Softw. 82(5), doi:10.18637/jss.v082.i05,
Section "Campylobacter infections in Canada", and the package vignette
(cran/tscount inst/doc/tsglm.Rnw, chunk ``campy2``)::

    interventions <- interv_covariate(n = length(campy), tau = c(84, 100), delta = c(1, 0))
    campyfit_nbin <- tsglm(campy, model = list(past_obs = 1, past_mean = 13),
                           xreg = interventions, distr = "nbinom")

Data: ``../shared/reference/campy.csv`` (tscount 1.4.3 ``campy``; see its PROVENANCE.md).

Definitions taken from tscount 1.4.3's R sources (cran/tscount, read in this project):
``interv_covariate`` (man/interv_covariate.Rd): X_t = delta^(t - tau) 1(t >= tau), so with
``delta = c(1, 0)`` covariate 1 is a level shift from t = 84 and covariate 2 a single spike at
t = 100.  (The vignette's displayed equation writes 1(t = 84) and 1(t >= 100), the other way
round; the code, which produced the published numbers, is what we follow.)
``tsglm.condmean`` (R/tsglm.condmean.R): marginal initialisation of pre-sample values;
``tsglm.distrfit`` (R/tsglm.distrfit.R): Pearson estimator of sigmasq with n - m degrees of
freedom; ``tsglm`` (R/tsglm.R): info.matrix_corrected = sum (1/lambda + sigmasq) * outer products.

The published coefficient table (summary(campyfit_nbin)) could not be retrieved in text form
from the sources available to this project, so the tests check the tscount *algorithm*
(recursion transcribed below from R/tsglm.condmean.R, the first-order conditions, the Pearson
equation) rather than printed digits.  TODO for the lead: add the published table here.
"""

CAMPY_MODEL = {"past_obs": [1], "past_mean": [13], "interventions": [(84, 1.0), (100, 0.0)], "distr": "nbinom",
               "link": "identity"}
CAMPY_N = 140


def tscount_condmean(paramvec, ts, xreg, past_obs, past_mean):
    """Pure-python transcription of tscount's tsglm.condmean (identity link, marginal init,
    internal covariates): returns nu_1..nu_n."""
    p, q = len(past_obs), len(past_mean)
    p_max, q_max = max(past_obs, default=0), max(past_mean, default=0)
    intercept = paramvec[0]
    b = paramvec[1:1 + p]
    a = paramvec[1 + p:1 + p + q]
    eta = paramvec[1 + p + q:]
    denom = 1 - sum(b) - sum(a)
    nu_stat = intercept / denom
    nu = [nu_stat] * q_max + [0.0] * len(ts)
    z = [nu_stat] * p_max + list(ts)
    for t in range(1, len(ts) + 1):
        v = intercept
        v += sum(b[i] * z[t - past_obs[i] + p_max - 1] for i in range(p))
        v += sum(a[i] * nu[t - past_mean[i] + q_max - 1] for i in range(q))
        v += sum(eta[j] * xreg[t - 1][j] for j in range(len(eta)))
        nu[t + q_max - 1] = v
    return nu[q_max:]
