"""Multi-annotator truth inference: sklearn-like aggregators of crowd answers.

Each aggregator fits ``(item, annotator, label)`` arrays or a long table with crowd-kit's
``task, worker, label`` columns; ``fit_predict`` returns a Series indexed by item id,
``fit_predict_proba`` (categorical) an items x classes DataFrame.
"""

from labelnoise.common.aggregation._base import Answers, encode_answers
from labelnoise.common.aggregation.catd import CATD
from labelnoise.common.aggregation.dawid_skene import DawidSkene
from labelnoise.common.aggregation.glad import GLAD
from labelnoise.common.aggregation.mace import MACE
from labelnoise.common.aggregation.majority_vote import MajorityVote
from labelnoise.common.aggregation.mean import MeanAggregator
from labelnoise.common.aggregation.median import MedianAggregator
from labelnoise.common.aggregation.one_coin_dawid_skene import OneCoinDawidSkene
from labelnoise.common.aggregation.wawa import Wawa

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
}

#: The methods whose answers and output are numbers rather than classes.
NUMERIC_METHODS: frozenset[str] = frozenset({"mean", "median", "catd"})

__all__ = [
    "AGGREGATORS",
    "CATD",
    "GLAD",
    "MACE",
    "NUMERIC_METHODS",
    "Answers",
    "DawidSkene",
    "MajorityVote",
    "MeanAggregator",
    "MedianAggregator",
    "OneCoinDawidSkene",
    "Wawa",
    "encode_answers",
]
