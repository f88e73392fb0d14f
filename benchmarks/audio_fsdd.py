"""Audio tagging with noisy labels on FSDD: BCE against robust methods at 40 % tag noise.

Every number comes from the engine (:func:`labelnoise.engine.train`) on a variant of
``recipes/audio/fsdd_tags.yaml`` plus overrides (seed, noise, the data and cache folders,
evaluation only after the last epoch); each row names its recipe, variant and overrides.

The Free Spoken Digit Dataset as a 10-tag task (each clip carries its digit as its one tag);
speaker-disjoint split: theo and yweweler (1,000 clips) are the clean test set, the other
four speakers (2,000 clips) train. 10 % of the training clips are curated (clean, flagged);
the others get 40 % tag noise from the core simulator
(:func:`labelnoise.common.noise.multilabel_noise`): each true tag goes missing with
probability 0.4 and spurious tags are added with probability 0.4/9 per absent tag (as many as
40 % of the true tags). Same small CNN on cached log-mels, same schedule (AdamW, cosine,
batch 32, lr 3e-3, 20 epochs) for every method; lwlrap (DCASE 2019 Task 2) and mAP on the
clean test tags after the last epoch, averaged over seeds (each seed: its own noise draw,
curated draw, init and order). ``<variant>_clean`` trains on the clean tags
(``--task.noise.kind=none``: the ceiling).

Label-issue detection: ``--detection-folds K`` engine runs of the ``bce`` variant
(``--task.holdout.folds=K --task.holdout.fold=f``, ``--detection-epochs`` epochs) each predict
their held-out fold of the noisy training clips (their test split); the out-of-sample tag
probabilities are scored by our multi-label confident learning and cleanlab's.

    python benchmarks/audio_fsdd.py --data-dir /work/shared/data --json /tmp/audio_fsdd.json
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.audio import holdout_split, predict_tags

RECIPE_NAME = "recipes/audio/fsdd_tags.yaml"
RECIPE = Path(__file__).resolve().parents[1] / RECIPE_NAME
#: benchmark method -> (variant of fsdd_tags.yaml, train on the clean tags?)
METHODS = {
    "bce": ("bce", False),
    "softmax": ("softmax", False),
    "softmax_gce": ("softmax_gce", False),
    "asl": ("asl", False),
    "gce_binary": ("gce", False),
    "per_tag_small_loss": ("per_tag_small_loss", False),
    "large_loss": ("large_loss", False),
    "or_gate": ("or_gate", False),
    "bce_clean": ("bce", True),
    "softmax_clean": ("softmax", True),
}


def overrides(args: Any, data_dir: Path, seed: int, out: Path, **task: Any) -> dict[str, Any]:
    """The overrides of one run: seed, noise rate (or none), data and cache folders, output
    directory, one evaluation after the last epoch; ``task`` adds task options."""
    return {
        "seed": seed,
        "output_dir": str(out),
        "task": {
            "noise": {"rate": args.rate},
            "cache_dir": str(args.cache_dir),
            "val_fraction": 0.2 if args.validate else 0.0,
            **task,
        },
        "data": {"data_dir": str(data_dir), "batch_size": args.batch_size},
        "optim": {"lr": args.lr},
        "train": {"epochs": args.epochs, "eval_every": args.epochs, "progress": False},
    }


def _defining(over: dict[str, Any]) -> dict[str, Any]:
    """The dotted overrides that define a result (not the paths), as a JSON row names them."""
    flat: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            elif k not in ("output_dir", "cache_dir", "data_dir", "progress"):
                flat[f"{prefix}{k}"] = v

    walk(over, "")
    return flat


def _label(over: dict[str, Any]) -> str:
    """``--section.key=value`` text of the overrides that define a result (not the paths)."""
    return " ".join(f"--{k}={v}" for k, v in _defining(over).items())


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=0.4, help="tag noise rate (default 0.4)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seeds", default="0,1,2", help="noise, curated draw, init and order seeds")
    p.add_argument("--methods", default="bce,softmax", help=f"of {', '.join(METHODS)}")
    p.add_argument("--tag", default="", help="suffix of the results file name")
    p.add_argument(
        "--validate",
        action="store_true",
        help="model selection: hold out 20 %% of the training clips (noisy tags, speakers "
        "disjoint from the test speakers) and score lwlrap / mAP on their noisy tags",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "labelnoise" / "audio",
        help="log-mel cache (computed once)",
    )
    p.add_argument(
        "--detection-folds",
        type=int,
        default=2,
        help="K-fold BCE runs for multi-label label-issue detection on the first seed (0: skip)",
    )
    p.add_argument(
        "--detection-epochs", type=int, default=8, help="epochs of each K-fold detection run"
    )
    args = p.parse_args()
    data_dir = data_dir_or_exit(args)
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    seeds = [int(v) for v in args.seeds.split(",")]
    methods = args.methods.split(",")
    recipe = load_recipe(RECIPE)
    setting = f"fsdd_tags_{args.rate:g}"
    scores: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    rows, info, labels = [], {}, {}
    split = "val" if args.validate else "test"
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for name in methods:
                variant, clean = METHODS[name]
                task = {"noise": {"kind": "none"}} if clean else {}
                over = overrides(args, data_dir, seed, Path(tmp) / f"{name}_{seed}", **task)
                labels[name] = f"fsdd_tags.yaml#{variant} " + _label(
                    {k: v for k, v in over.items() if k != "seed"}
                )
                m = train(resolve(recipe, over, variant=variant))
                if not clean or not info:
                    info = m["data"]
                res = m[split]
                lw, ap = (
                    (res["lwlrap"], res["mAP"])
                    if not args.validate
                    else (
                        res["noisy_lwlrap"],
                        res["noisy_mAP"],
                    )
                )
                secs = float(m["train"]["wall_time_s"])
                scores[name].append((lw, ap, secs))
                extra = {
                    "seed": seed,
                    "seconds": secs,
                    "recipe": RECIPE_NAME,
                    "variant": variant,
                    "overrides": _defining(over),
                    "command": labels[name],
                }
                rows += [
                    row(setting, name, "lwlrap", lw, **extra),
                    row(setting, name, "mAP", ap, **extra),
                ]
        det_text = ""
        if args.detection_folds:
            det_table, det_rows, det_label = _detection(recipe, args, data_dir, seeds[0], tmp)
            rows += [
                row(setting, *r, recipe=RECIPE_NAME, variant="bce", command=det_label)
                for r in det_rows
            ]
            det_text = (
                f"\n\nMulti-label label-issue detection on the noisy training clips (seed "
                f"{seeds[0]}, {args.detection_folds} engine runs `{det_label}` "
                f"(--task.holdout.fold=0..{args.detection_folds - 1}), each predicting its "
                "held-out fold; a clip is corrupted when any of its tags differs from the clean "
                "tags). Same predicted probabilities for both libraries.\n\n" + det_table
            )
    base = np.mean([v[0] for v in scores["bce"]]) if "bce" in scores else None
    table = []
    for name in methods:
        lw = np.array([v[0] for v in scores[name]])
        ap = np.array([v[1] for v in scores[name]])
        delta = "" if base is None or name == "bce" else f"{100 * (lw.mean() - base):+.1f}"
        table.append(
            [
                name,
                f"`{labels[name]}`",
                float(lw.mean()),
                float(lw.std()),
                " / ".join(f"{v:.3f}" for v in lw),
                float(ap.mean()),
                delta,
                f"{sum(v[2] for v in scores[name]):.0f}",
            ]
        )
    header = [
        "method",
        "recipe#variant + overrides (and --seed)",
        "lwlrap",
        "lwlrap std",
        "lwlrap per seed",
        "mAP",
        "Δ lwlrap (pts)",
        "train s",
    ]
    text = markdown_table(header, table) + det_text
    preamble = (
        f"FSDD, 10 tags, speaker-disjoint (test: theo, yweweler; {info['test_clips']} clips), "
        f"train {info['train_clips']} clips (~10 % curated), tag noise rate {args.rate:g} "
        f"(drop {info.get('drop_rate', 0):.3f}, add {info.get('add_rate', 0):.4f}; "
        f"{100 * info['tag_noise_rate']:.1f} % of the training tag entries wrong), "
        f"{args.epochs} epochs (batch {args.batch_size}, lr {args.lr:g}), seeds {args.seeds}; "
        "every run through the engine (labelnoise.engine.train). "
        + (
            f"VALIDATION run: lwlrap / mAP on the NOISY tags of {info['val_clips']} held-out "
            "training clips (no test clip used)"
            if args.validate
            else "Clean test lwlrap / mAP"
        )
        + " after the last "
        f"epoch, mean (and population std) over seeds. Total {time.perf_counter() - t0:.0f} s "
        f"(all runs; 1-minute load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} "
        f"at the end on {os.cpu_count()} cores)."
    )
    report("audio_fsdd" + args.tag, text, rows, args.json, preamble)


def _detection(
    recipe: dict[str, Any], args: Any, data_dir: Path, seed: int, tmp: str
) -> tuple[str, list[tuple], str]:
    """Out-of-sample tag probabilities from K engine runs (each holds one fold out), then
    per-tag confident learning (ours vs cleanlab's ``multilabel_classification``), scored
    against the known corruption mask."""
    from cleanlab.multilabel_classification.filter import find_label_issues as cl_find
    from cleanlab.multilabel_classification.rank import get_label_quality_scores as cl_scores

    from labelnoise.common.detection import find_label_issues, get_multilabel_quality_scores
    from labelnoise.common.metrics import auprc, auroc, precision_recall_f1

    k = args.detection_folds
    base = overrides(args, data_dir, seed, Path(tmp) / "det")
    base["train"]["epochs"] = base["train"]["eval_every"] = args.detection_epochs
    clips = build_task(resolve(recipe, base, variant="bce")).splits.train  # all training clips
    n = len(clips)
    probs = torch.zeros(n, clips.target.shape[1])
    label = ""
    for f in range(k):
        over = overrides(args, data_dir, seed, Path(tmp) / f"det_{f}", holdout={"folds": k})
        over["train"]["epochs"] = over["train"]["eval_every"] = args.detection_epochs
        label = "fsdd_tags.yaml#bce " + _label({key: v for key, v in over.items() if key != "seed"})
        over["task"]["holdout"]["fold"] = f
        cfg = resolve(recipe, over, variant="bce")
        train(cfg)
        task = build_task(cfg)
        model = task.adapter.build_model(task.splits)
        model.load_state_dict(torch.load(cfg.run_dir / "best_model.pt", weights_only=True))
        logits, _ = predict_tags(model, task.splits.test)  # the held-out fold, in order
        _, held = holdout_split(n, folds=k, fold=f, seed=seed + 17)
        assert torch.equal(task.splits.test.target, clips.target[held])
        probs[held] = torch.sigmoid(logits)
    labels = clips.target.long().numpy()
    corrupted = (clips.target != clips.clean).any(1).numpy()
    p = probs.double().numpy()
    ours_mask = find_label_issues(labels, p, multi_label=True)
    ours_q = get_multilabel_quality_scores(labels, p)
    cl_labels = [list(np.flatnonzero(r)) for r in labels]
    cl_mask = cl_find(cl_labels, p)
    cl_q = cl_scores(cl_labels, p)
    table, det_rows = [], []
    for name, mask, q in (("labelnoise", ours_mask, ours_q), ("cleanlab", cl_mask, cl_q)):
        prec, rec, _ = precision_recall_f1(corrupted, mask)
        vals = {
            "AUPRC": auprc(corrupted, q),
            "AUROC": auroc(corrupted, q),
            "issue precision": prec,
            "issue recall": rec,
        }
        table.append([name, *[float(v) for v in vals.values()]])
        det_rows += [(name, metric, float(v)) for metric, v in vals.items()]
    same = float((ours_mask == cl_mask).mean())
    header = ["library", "quality AUPRC", "quality AUROC", "issue precision", "issue recall"]
    note = f"\n\nCorrupted clips: {int(corrupted.sum())} of {n}; masks agree on {100 * same:.2f} %."
    return markdown_table(header, table) + note, det_rows, label


if __name__ == "__main__":
    main()
