"""Audio tagging with noisy labels on FSDD: BCE against robust methods at 40 % tag noise.

The Free Spoken Digit Dataset as a 10-tag task (each clip carries its digit as its one tag);
speaker-disjoint split: theo and yweweler (1,000 clips) are the clean test set, the other
four speakers (2,000 clips) train. 10 % of the training clips are curated (clean, flagged);
the others get 40 % tag noise from the core simulator
(:func:`labelnoise.common.noise.multilabel_noise`): each true tag goes missing with
probability 0.4 and spurious tags are added with probability 0.4/9 per absent tag (as many as
40 % of the true tags). Same small CNN on cached log-mels, same schedule and seed for every
method; lwlrap (DCASE 2019 Task 2) and mAP on the clean test tags after the last epoch.

    python benchmarks/audio_fsdd.py --data-dir /work/shared/data --json /tmp/audio_fsdd.json
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.common.losses import build_loss
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

#: method -> (loss name, loss options, per-tag selection options or None)
METHODS = {
    "bce": ("bce", {}, None),
    "gce_binary": ("gce_binary", {"q": 0.7}, None),
    "per_tag_small_loss": ("bce", {}, {"forget_rate": 0.4, "negative_forget_rate": 0.05}),
    "asl": ("asl", {"gamma_neg": 6.0, "clip": 0.1}, None),
}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=0.4, help="tag noise rate (default 0.4)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", default="bce,per_tag_small_loss,asl")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "labelnoise" / "audio",
        help="log-mel cache (computed once)",
    )
    p.add_argument("--num-threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    data_dir = data_dir_or_exit(args)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    t0 = time.perf_counter()
    cfg = AudioConfig(
        dataset="fsdd",
        val_fraction=0.0,
        curated_fraction=0.1,
        cache_dir=str(args.cache_dir),
        noise=TagNoiseConfig(kind="tags", rate=args.rate),
    )
    adapter = AudioAdapter(cfg)
    splits = adapter.build_datasets(data_dir, seed=args.seed)
    prep = time.perf_counter() - t0
    info = splits.info
    setting = f"fsdd_tags_{args.rate:g}"
    rows, table, base = [], [], None
    for name in args.methods.split(","):
        loss_name, opts, sel_opts = METHODS[name]
        torch.manual_seed(args.seed)
        model = adapter.build_model(splits)
        selector = None
        if sel_opts is not None:
            selector = PerTagSmallLossSelector(
                num_examples=len(splits.train),
                num_tags=10,
                num_gradual=3,
                curated=splits.train.curated,
                **sel_opts,
            )
        t = time.perf_counter()
        fit_tagger(
            model,
            splits.train,
            loss_fn=build_loss(loss_name, **opts),
            selector=selector,
            epochs=args.epochs,
            seed=args.seed,
        )
        logits, clean = predict_tags(model, splits.test)
        secs = time.perf_counter() - t
        lw, ap = lwlrap(logits, clean), mean_average_precision(logits, clean)
        base = lw if name == "bce" else base
        delta = "" if base is None or name == "bce" else f"{100 * (lw - base):+.1f}"
        table.append([name, f"{loss_name} {opts or ''}".strip(), lw, ap, delta, f"{secs:.0f}"])
        rows += [
            row(setting, name, "lwlrap", lw, seconds=secs),
            row(setting, name, "mAP", ap, seconds=secs),
        ]
    total = time.perf_counter() - t0
    preamble = (
        f"FSDD, 10 tags, speaker-disjoint (test: theo, yweweler; {info['test_clips']} clips), "
        f"train {info['train_clips']} clips ({info['curated_clips']} curated), tag noise "
        f"rate {args.rate:g} (drop {info['drop_rate']:.3f}, add {info['add_rate']:.4f}; "
        f"{100 * info['tag_noise_rate']:.1f} % of the training tag entries wrong), "
        f"{args.epochs} epochs, seed {args.seed}. Clean test lwlrap / mAP. "
        f"Data + features {prep:.0f} s, total {total:.0f} s."
    )
    header = ["method", "loss", "lwlrap", "mAP", "Δ lwlrap (pts)", "train s"]
    report("audio_fsdd", markdown_table(header, table), rows, args.json, preamble)


if __name__ == "__main__":
    main()
