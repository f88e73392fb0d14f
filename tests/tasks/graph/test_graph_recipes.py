"""The graph recipes: every variant resolves, ``cora_erase_ppl.yaml`` is the ``ppl`` variant
of ``cora_erase_robust.yaml`` (what the benchmark runs), and on real Cora the ppl recipe's
teacher epoch equals an independent prototype-teacher recomputation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train
from labelnoise.tasks.graph import erase_noise, erase_seed, normalize_features, ppr_features
from labelnoise.tasks.graph.adapter import load_graph
from tests.conftest import require_data

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "graph"


def test_every_variant_resolves_and_ppl_recipe_is_the_robust_variant() -> None:
    robust = load_recipe(RECIPES / "cora_erase_robust.yaml")
    methods = {v: resolve(robust, variant=v).method.name for v in robust["variants"]}
    assert methods["lp"] == "label_propagation" and methods["graphcleaner"] == "graphcleaner_drop"
    assert methods["ppl"] == "ppl" and methods["ce"] == "standard"
    for v in load_recipe(RECIPES / "cora_erase_ce.yaml")["variants"]:
        resolve(load_recipe(RECIPES / "cora_erase_ce.yaml"), variant=v)
    ppl = resolve(load_recipe(RECIPES / "cora_erase_ppl.yaml"))
    variant = resolve(robust, variant="ppl")
    same = dataclasses.replace(variant, name=ppl.name, output_dir=ppl.output_dir)
    assert same == ppl


def test_cora_ppl_teacher_epoch(data_dir: Path, tmp_path: Path) -> None:
    require_data(data_dir / "planetoid" / "cora")
    recipe = load_recipe(RECIPES / "cora_erase_ppl.yaml")
    over = {
        "data": {"data_dir": str(data_dir)},
        "output_dir": str(tmp_path),
        "method": {"rounds": 1, "round_epochs": 3},
        "train": {"epochs": 4},
    }
    train(resolve(recipe, over))
    first = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[0])
    g = normalize_features(load_graph("cora", data_dir))
    noisy = erase_noise(g.y, g.train_idx, 7, 0.4, kind="asymm", seed=erase_seed(0)).noisy
    z = F.normalize(ppr_features(g.x, g.edge_index), dim=1)
    tr = g.train_idx
    protos = torch.stack([F.normalize(z[tr[noisy[tr] == c]].mean(0), dim=0) for c in range(7)])
    pred = (z @ protos.T).argmax(1)
    for split, idx in (("val_clean", g.val_idx), ("test", g.test_idx)):
        acc = float((pred[idx] == g.y[idx]).float().mean())
        assert abs(first[f"{split}_accuracy"] - acc) < 1e-6  # one node is 1e-3
