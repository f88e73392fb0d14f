"""Multi-annotator truth inference: sklearn-like aggregators of crowd answers.

Each aggregator fits ``(item, annotator, label)`` arrays or a long table with crowd-kit's
``task, worker, label`` columns; ``fit_predict`` returns a Series indexed by item id,
``fit_predict_proba`` (categorical) an items x classes DataFrame.
"""

from labelnoise.common.aggregation._base import Answers, encode_answers
from labelnoise.common.aggregation.catd import CATD
from labelnoise.common.aggregation.dawid_skene import DawidSkene
from labelnoise.common.aggregation.ebcc import EBCC
from labelnoise.common.aggregation.glad import GLAD
from labelnoise.common.aggregation.ibcc import IBCC
from labelnoise.common.aggregation.kos import KOS
from labelnoise.common.aggregation.m_msr import MMSR
from labelnoise.common.aggregation.mace import MACE
from labelnoise.common.aggregation.majority_vote import MajorityVote
from labelnoise.common.aggregation.mean import MeanAggregator
from labelnoise.common.aggregation.median import MedianAggregator
from labelnoise.common.aggregation.one_coin_dawid_skene import OneCoinDawidSkene
from labelnoise.common.aggregation.wawa import Wawa
from labelnoise.common.aggregation.zero_based_skill import ZeroBasedSkill

#: CLI method name -> aggregator class (constructed with its defaults).
AGGREGATORS: dict[str, type] = {
    "mv": MajorityVote,
    "wawa": Wawa,
    "ds": DawidSkene,
    "one-coin-ds": OneCoinDawidSkene,
    "glad": GLAD,
    "mace": MACE,
    "mean": MeanAggregator,
    "median": MedianAggregator,
    "catd": CATD,
    "kos": KOS,
    "mmsr": MMSR,
    "zbs": ZeroBasedSkill,
    "ibcc": IBCC,
    "ebcc": EBCC,
}

#: The methods that take exactly two classes.
BINARY_METHODS: frozenset[str] = frozenset({"kos"})

#: The methods whose answers and output are numbers rather than classes.
NUMERIC_METHODS: frozenset[str] = frozenset({"mean", "median", "catd"})

__all__ = [
    "AGGREGATORS",
    "BINARY_METHODS",
    "CATD",
    "EBCC",
    "GLAD",
    "IBCC",
    "KOS",
    "MACE",
    "MMSR",
    "NUMERIC_METHODS",
    "Answers",
    "DawidSkene",
    "MajorityVote",
    "MeanAggregator",
    "MedianAggregator",
    "OneCoinDawidSkene",
    "Wawa",
    "ZeroBasedSkill",
    "encode_answers",
]
