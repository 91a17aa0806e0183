"""Reference values for the break tests, each with its source.

Nile (``statsmodels.api.datasets.nile``; identical to R ``datasets::Nile``, 100 annual flows 1871-1970).
Source: R package strucchange, example outputs saved in the package sources,
``tests/Examples/strucchange-Ex.Rout.save`` (CRAN mirror github cran/strucchange; R 3.2.0), calls:

* ``sctest(Fstats(Nile ~ 1))``                -> ``sup.F = 75.93, p-value = 2.22e-16``
* ``summary(breakpoints(Nile ~ 1))``           -> breakpoints and the RSS / BIC rows below
* ``confint(breakpoints(Nile ~ 1))``           -> ``25  28  32`` (1895, 1898, 1902)
* ``logLik(breakpoints(bp.nile, breaks = 1))`` -> ``-625.8315 (df=4)``; ``AIC(bp.nile1, k = log(n))`` -> 1270.084
* ``sctest(efp(Nile ~ 1, type = "OLS-CUSUM"))`` -> ``S0 = 2.9518, p-value = 5.409e-08``

strucchange breakpoints are 1-based "last observation of the segment"; pakcast reports the 0-based
index of the same observation (subtract one).

Andrews (1993), Econometrica 61(4), Table 1, trimming pi0 = 0.15: asymptotic critical values of
sup-F for p = 1 restriction: 10% 7.12, 5% 8.68, 1% 12.16; for p = 2: 10% 10.00, 5% 11.72, 1% 15.56.
"""

NILE_SUPF = 75.93
NILE_SUPF_PVALUE_R = 2.22e-16  # R: 1 - pchisq() at machine precision, i.e. "zero"; we check p < 1e-12
NILE_SUPF_BREAK = 28  # 1-based

NILE_BREAKPOINTS = {  # m -> 1-based breakpoints
    1: [28],
    2: [28, 83],
    3: [28, 68, 83],
    4: [28, 45, 68, 83],
    5: [15, 30, 45, 68, 83],
}
NILE_RSS = [2835157, 1597457, 1552924, 1538097, 1507888, 1659994]  # m = 0..5, printed to 7 digits
NILE_BIC = [1318, 1270, 1276, 1285, 1292, 1311]  # m = 0..5, printed rounded
NILE_BIC_1 = 1270.084
NILE_LOGLIK_1 = -625.8315
NILE_CONFINT = (25, 28, 32)  # 2.5 %, breakpoint, 97.5 % (1-based)
NILE_CONFINT_YEARS = (1895, 1898, 1902)

NILE_CUSUM_S0 = 2.9518
NILE_CUSUM_P = 5.409e-08

ANDREWS_SUPF_CRIT_015 = {1: {0.10: 7.12, 0.05: 8.68, 0.01: 12.16}, 2: {0.10: 10.00, 0.05: 11.72, 0.01: 15.56}}
