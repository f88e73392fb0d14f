"""Named-entity recognition with noisy labels: readers, adapter, methods, detection."""

from labelnoise.tasks.ner.conll import ConllFile, Sentence, read_conll, write_conll
from labelnoise.tasks.ner.metrics import entity_scores, token_accuracy
from labelnoise.tasks.ner.noisebench import NOISE_FILES, NoiseBench, load_noisebench
from labelnoise.tasks.ner.prune import prune_tokens
from labelnoise.tasks.ner.schemes import bio_spans, convert_tags, to_iob2
from labelnoise.tasks.ner.wnut import load_wnut17

__all__ = [
    "NOISE_FILES",
    "ConllFile",
    "NoiseBench",
    "Sentence",
    "bio_spans",
    "convert_tags",
    "entity_scores",
    "load_noisebench",
    "load_wnut17",
    "prune_tokens",
    "read_conll",
    "to_iob2",
    "token_accuracy",
    "write_conll",
]
