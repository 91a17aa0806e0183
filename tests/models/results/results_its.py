"""Reference values for the interrupted-time-series model, with sources.

Sicily smoking-ban data (``../shared/reference/sicily.csv``; see that folder's PROVENANCE.md):
monthly acute coronary events (``aces``) 2002-01..2006-11, ban from 2005-01 (``smokban``),
offset ``log(stdpop)``. Lopez Bernal, Cummins & Gasparrini (2017), Int J Epidemiol 46(1):348-355,
doi:10.1093/ije/dyw098, with R code github gasparrini/2017_lopezbernal_IJE_codedata ``Rcode.R``.

* ``model3 <- glm(aces ~ offset(log(stdpop)) + smokban + time + harmonic(month,2,12),
  family=quasipoisson)``; ``ci.exp(model3)`` (Wald, normal quantile): the seasonally adjusted
  step change published in the article, RR 0.885 (95% CI 0.839 to 0.933), and the trend
  ``exp(coef(model3)["time"]*12)``.
* ``model1`` (Poisson) and ``model2`` (quasi-Poisson) without seasonality: RR 0.894; the
  quasi-Poisson interval is wider by sqrt(dispersion).

Caveat (stated plainly): the R session could not be run here (no R on the build machine) and the
article text was not retrievable through the project's search tool, so the published values
above were taken from the article as cited, to the three decimals it prints; the test compares
at that precision. The model1/model2 values are regression values: the maximum-likelihood fits
of the same ``glm`` calls computed with statsmodels 0.15 ``GLM`` (an independent implementation
from pakcast's design/effect code), pinned to four decimals; they were not checked against R here.
"""

SICILY_SEASONAL_QP_RR = (0.885, 0.839, 0.933)  # model3, published
SICILY_POISSON_RR = (0.8944, 0.8647, 0.9251)    # model1 (glm poisson), ci.exp
SICILY_QUASI_RR = (0.8944, 0.8392, 0.9532)      # model2 (glm quasipoisson), ci.exp
SICILY_QUASI_DISPERSION = 3.559                  # summary(model2)$dispersion
