"""Graph node classification with noisy labels (PyG): readers, ERASE's noise protocol, GCN /
GAT / APPNP / PPR-MLP, the ``graph`` task adapter, and the pure functions of the graph
methods (:mod:`labelnoise.methods`: ``label_propagation``, ``graphcleaner_drop``, ``ppl``):
label-propagation correction, neighbourhood-aware detection, PPR prototypes and confident
pseudo-labels. Heavy torch_geometric imports happen inside the models."""

from labelnoise.tasks.graph.data import GraphData, from_pyg, normalize_features, to_pyg
from labelnoise.tasks.graph.detection import graph_label_quality
from labelnoise.tasks.graph.edgelist import read_edgelist
from labelnoise.tasks.graph.models import MODELS, build_model, ppr_features
from labelnoise.tasks.graph.noise import erase_corruption_matrix, erase_noise, erase_seed
from labelnoise.tasks.graph.planetoid import PlanetoidUnpickler, load_pickle, read_planetoid
from labelnoise.tasks.graph.propagation import (
    label_propagation,
    lp_correct,
    neighbour_label_agreement,
)
from labelnoise.tasks.graph.robust import confident_per_class, prototype_probs, prototypes

__all__ = [
    "MODELS",
    "GraphData",
    "PlanetoidUnpickler",
    "build_model",
    "confident_per_class",
    "erase_corruption_matrix",
    "erase_noise",
    "erase_seed",
    "from_pyg",
    "graph_label_quality",
    "label_propagation",
    "load_pickle",
    "lp_correct",
    "neighbour_label_agreement",
    "normalize_features",
    "ppr_features",
    "prototype_probs",
    "prototypes",
    "read_edgelist",
    "read_planetoid",
    "to_pyg",
]
