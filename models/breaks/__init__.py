"""Structural breaks: known-date tests, sup-F/sup-LR, Bai-Perron search, break-date intervals, CUSUM/MOSUM.

Search strategies (:mod:`~models.breaks.search`) are separate from segment costs
(:mod:`~models.breaks.costs`): any :class:`~models.breaks.costs.SegmentCost` plugs into
:func:`~models.breaks.search.dynamic_programming`, :func:`~models.breaks.search.pelt`,
:func:`~models.breaks.search.binary_segmentation` and :class:`~models.breaks.search.BaiPerron`.
"""

from pakcast.models.breaks.costs import CostL2, CostNegBin, CostPoisson, SegmentCost, estimate_nb_alpha, make_cost
from pakcast.models.breaks.intervals import bai_confint, pargmax
from pakcast.models.breaks.known import BreakTestResult, chow_test, count_lr_test
from pakcast.models.breaks.monitor import FluctuationResult, ols_cusum, ols_mosum
from pakcast.models.breaks.search import BaiPerron, BreakpointsResults, binary_segmentation, dynamic_programming, pelt
from pakcast.models.breaks.supf import SupFResult, sup_f_test, sup_lr_test, supf_critical_value, supf_pvalue

__all__ = [
    "SegmentCost", "CostL2", "CostPoisson", "CostNegBin", "make_cost", "estimate_nb_alpha",
    "bai_confint", "pargmax", "BreakTestResult", "chow_test", "count_lr_test",
    "FluctuationResult", "ols_cusum", "ols_mosum",
    "BaiPerron", "BreakpointsResults", "dynamic_programming", "binary_segmentation", "pelt",
    "SupFResult", "sup_f_test", "sup_lr_test", "supf_pvalue", "supf_critical_value",
]
