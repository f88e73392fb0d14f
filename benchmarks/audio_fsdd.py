"""Audio tagging with noisy labels on FSDD: BCE against robust methods at 40 % tag noise.

The Free Spoken Digit Dataset as a 10-tag task (each clip carries its digit as its one tag);
speaker-disjoint split: theo and yweweler (1,000 clips) are the clean test set, the other
four speakers (2,000 clips) train. 10 % of the training clips are curated (clean, flagged);
the others get 40 % tag noise from the core simulator
(:func:`labelnoise.common.noise.multilabel_noise`): each true tag goes missing with
probability 0.4 and spurious tags are added with probability 0.4/9 per absent tag (as many as
40 % of the true tags). Same small CNN on cached log-mels, same schedule (AdamW, cosine,
batch 32, lr 3e-3, 20 epochs), seed and augmentation stream for every method; lwlrap
(DCASE 2019 Task 2) and mAP on the clean test tags after the last epoch, averaged over seeds
(each seed: its own noise draw, curated draw, init and order). ``bce_clean`` /
``softmax_clean`` train on the clean tags (the ceiling).

    python benchmarks/audio_fsdd.py --data-dir /work/shared/data --json /tmp/audio_fsdd.json
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import numpy as np
import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row
from torch.utils.data import Subset

from labelnoise.common.losses import build_loss
from labelnoise.common.selection import build_selector
from labelnoise.tasks.audio import (
    AudioAdapter,
    AudioConfig,
    PerTagSmallLossSelector,
    TagNoiseConfig,
    fit_tagger,
    lwlrap,
    mean_average_precision,
    predict_tags,
)

#: method -> (units, loss name, loss options, selection or None, train on clean tags?);
#: selection: per-tag small-loss options, or ``{core selector name: options}``.
METHODS = {
    "bce": ("tags", "bce", {}, None, False),
    "softmax": ("clip", "ce", {}, None, False),
    "softmax_gce": ("clip", "gce", {"q": 0.7}, None, False),
    "softmax_elr": ("clip", "elr", {"lam": 3.0}, None, False),
    "asl": ("tags", "asl", {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05}, None, False),
    "gce_binary": ("tags", "gce_binary", {"q": 0.7}, None, False),
    "per_tag_small_loss": (
        "tags",
        "bce",
        {},
        {"forget_rate": 0.4, "negative_forget_rate": 0.05},
        False,
    ),
    "large_loss": ("tags", "bce", {}, {"large_loss": {"delta_rel": 0.002}}, False),
    "bce_clean": ("tags", "bce", {}, None, True),
    "softmax_clean": ("clip", "ce", {}, None, True),
}


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
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument(
        "--detection-folds",
        type=int,
        default=2,
        help="K-fold BCE models for multi-label label-issue detection on the first seed (0: skip)",
    )
    p.add_argument(
        "--detection-epochs", type=int, default=8, help="epochs of each K-fold detection model"
    )
    args = p.parse_args()
    data_dir = data_dir_or_exit(args)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    t0 = time.perf_counter()
    seeds = [int(v) for v in args.seeds.split(",")]
    methods = args.methods.split(",")
    cfg = AudioConfig(
        dataset="fsdd",
        val_fraction=0.2 if args.validate else 0.0,
        curated_fraction=0.1,
        cache_dir=str(args.cache_dir),
        noise=TagNoiseConfig(kind="tags", rate=args.rate),
    )
    adapter = AudioAdapter(cfg)
    setting = f"fsdd_tags_{args.rate:g}"
    scores: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    rows, info = [], {}
    for seed in seeds:
        splits = adapter.build_datasets(data_dir, seed=seed)
        info = splits.info
        for name in methods:
            lw, ap, secs = _run(adapter, splits, name, args, seed)
            scores[name].append((lw, ap, secs))
            rows += [
                row(setting, name, "lwlrap", lw, seed=seed, seconds=secs),
                row(setting, name, "mAP", ap, seed=seed, seconds=secs),
            ]
    base = np.mean([v[0] for v in scores["bce"]]) if "bce" in scores else None
    table = []
    for name in methods:
        lw = np.array([v[0] for v in scores[name]])
        ap = np.array([v[1] for v in scores[name]])
        delta = "" if base is None or name == "bce" else f"{100 * (lw.mean() - base):+.1f}"
        units, loss_name, opts, sel, clean = METHODS[name]
        table.append(
            [
                name,
                f"{units} units, {loss_name} {opts or ''}".strip()
                + _selection_label(sel)
                + (" (clean tags)" if clean else ""),
                float(lw.mean()),
                " / ".join(f"{v:.3f}" for v in lw),
                float(ap.mean()),
                delta,
                f"{sum(v[2] for v in scores[name]):.0f}",
            ]
        )
    header = ["method", "loss", "lwlrap", "lwlrap per seed", "mAP", "Δ lwlrap (pts)", "train s"]
    text = markdown_table(header, table)
    if args.detection_folds:
        splits = adapter.build_datasets(data_dir, seed=seeds[0])
        det_table, det_rows = _detection(adapter, splits, args.detection_folds, args, seeds[0])
        rows += [row(setting, *r) for r in det_rows]
        text += (
            f"\n\nMulti-label label-issue detection on the noisy training clips (seed {seeds[0]}, "
            f"{args.detection_folds}-fold out-of-sample BCE models, {args.detection_epochs} "
            "epochs; a clip is corrupted when any of its tags differs from the clean tags). "
            "Same predicted probabilities for both libraries.\n\n" + det_table
        )
    preamble = (
        f"FSDD, 10 tags, speaker-disjoint (test: theo, yweweler; {info['test_clips']} clips), "
        f"train {info['train_clips']} clips (~10 % curated), tag noise rate {args.rate:g} "
        f"(drop {info['drop_rate']:.3f}, add {info['add_rate']:.4f}; "
        f"{100 * info['tag_noise_rate']:.1f} % of the training tag entries wrong), "
        f"{args.epochs} epochs (batch {args.batch_size}, lr {args.lr:g}), seeds {args.seeds}. "
        + (
            f"VALIDATION run: lwlrap / mAP on the NOISY tags of {info['val_clips']} held-out "
            "training clips (no test clip used)"
            if args.validate
            else "Clean test lwlrap / mAP"
        )
        + " after the last "
        f"epoch, mean over seeds. Total {time.perf_counter() - t0:.0f} s (all runs; "
        f"1-minute load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)."
    )
    report("audio_fsdd" + args.tag, text, rows, args.json, preamble)


def _detection(
    adapter: AudioAdapter, splits, folds: int, args, seed: int
) -> tuple[str, list[tuple]]:
    """Out-of-sample tag probabilities by K-fold, then per-tag confident learning (ours vs
    cleanlab's ``multilabel_classification``), scored against the known corruption mask."""
    from cleanlab.multilabel_classification.filter import find_label_issues as cl_find
    from cleanlab.multilabel_classification.rank import get_label_quality_scores as cl_scores

    from labelnoise.common.detection import find_label_issues, get_multilabel_quality_scores
    from labelnoise.common.metrics import auprc, auroc, precision_recall_f1

    train = splits.train
    n = len(train)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 17))
    probs = torch.zeros(n, train.target.shape[1])
    for f, held in enumerate(torch.chunk(perm, folds)):
        rest = perm[~torch.isin(perm, held)]
        torch.manual_seed(seed + 100 + f)
        model = adapter.build_model(splits)
        fit_tagger(
            model,
            Subset(train, rest.tolist()),
            loss_fn=build_loss("bce"),
            epochs=args.detection_epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=seed + f,
        )
        logits, _ = predict_tags(model, Subset(train, held.tolist()))
        probs[held] = torch.sigmoid(logits)
    labels = train.target.long().numpy()
    corrupted = (train.target != train.clean).any(1).numpy()
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
    return markdown_table(header, table) + note, det_rows


def _selection_label(sel: dict | None) -> str:
    if not sel:
        return ""
    if "large_loss" in sel:
        return f" + LL-R {sel['large_loss']}"
    return f" + per-tag small-loss {sel}"


def _loss(name: str, opts: dict, *, num_examples: int) -> torch.nn.Module:
    if name == "elr":  # a memory per clip over the K tags
        return build_loss(name, num_classes=10, num_examples=num_examples, **opts)
    return build_loss(name, **opts)


def _run(adapter: AudioAdapter, splits, name: str, args, seed: int) -> tuple[float, ...]:
    units, loss_name, opts, sel_opts, clean = METHODS[name]
    train = splits.train
    if clean:
        train = copy.copy(train)
        train.target = train.clean
    torch.manual_seed(seed)
    model = adapter.build_model(splits)
    selector = None
    if sel_opts is not None and "large_loss" in sel_opts:
        selector = build_selector("large_loss", num_examples=len(train), **sel_opts["large_loss"])
    elif sel_opts is not None:
        selector = PerTagSmallLossSelector(
            num_examples=len(train),
            num_tags=10,
            num_gradual=3,
            curated=train.curated,
            **sel_opts,
        )
    t = time.perf_counter()
    fit_tagger(
        model,
        train,
        loss_fn=_loss(loss_name, opts, num_examples=len(train)),
        units=units,
        selector=selector,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=seed,
    )
    if args.validate:  # the held-out training clips and their noisy tags
        logits, _ = predict_tags(model, splits.val)
        truth = splits.val.target
    else:
        logits, truth = predict_tags(model, splits.test)
    secs = time.perf_counter() - t
    return lwlrap(logits, truth), mean_average_precision(logits, truth), secs


if __name__ == "__main__":
    main()
