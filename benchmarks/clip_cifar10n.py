"""CLIP prompt tuning on 16-shot CIFAR-10 with CIFAR-10N human labels: zero-shot CLIP vs CoOp
with cross-entropy vs CoOp with GCE vs PTNL's unsupervised mode, clean test accuracy.

Needs real CLIP weights (``--model``, default ``openai/clip-vit-base-patch32``: a hub id, read
from the Hugging Face cache or downloaded, or a local checkpoint folder) and preferably a GPU;
``benchmarks/clip_gpu_check.sh`` runs it. When the weights cannot be loaded it says so and
exits 3. ``--model tiny-random`` runs the pipeline offline (accuracies are then chance).

The image features of every split are encoded once (``ClipAdapter``, cached features); each
method then trains its head with a small loop on those features: SGD (momentum 0.9, cosine
schedule, batch 32) as CoOp trains, the loss from ``labelnoise.common.losses.build_loss``, the
last epoch's model evaluated on the clean CIFAR-10 test images.
"""

from __future__ import annotations

import math
import sys
import time

from _common import data_dir_or_exit, markdown_table, parser, report, row


def train_head(adapter, splits, *, loss: str, epochs: int, lr: float, seed: int) -> float:
    """Train the adapter's model on the cached training features; clean test accuracy."""
    import torch

    from labelnoise.common.losses import build_loss

    torch.manual_seed(seed)
    model = adapter.build_model(splits)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    x, y = splits.train.features.to(device), splits.train.target.to(device)
    opts = {"q": 0.7} if loss == "gce" else {}
    loss_fn = build_loss(loss, num_classes=splits.num_classes, num_examples=len(y), **opts)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9) if lr > 0 else None
    batch, g = 32, torch.Generator().manual_seed(seed)
    total = epochs * math.ceil(len(y) / batch)
    step = 0
    for _ in range(epochs if opt is not None else 0):
        for idx in torch.randperm(len(y), generator=g).split(batch):
            idx = idx.to(device)
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            unit = loss_fn(model(image_features=x[idx]), y[idx], idx)
            opt.zero_grad()
            unit.mean().backward()
            opt.step()
            step += 1
    with torch.no_grad():
        test = splits.test
        pred = torch.cat(
            [model(image_features=f.to(device)).argmax(-1).cpu() for f in test.features.split(1024)]
        )
    return float((pred == test.clean).double().mean())


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="openai/clip-vit-base-patch32")
    p.add_argument("--label-set", default="worst")
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..n-1 (shots, init, order)")
    p.add_argument("--test-per-class", type=int, default=None, help="default: all 1,000")
    p.add_argument("--pseudo-pool", type=int, default=None, help="default: all 50,000")
    args = p.parse_args()
    root = data_dir_or_exit(args)

    from labelnoise.tasks.clip import ClipAdapter, ClipConfig, ClipNoiseConfig, load_clip

    t0 = time.time()
    try:
        backbone = load_clip(args.model)
    except FileNotFoundError as e:
        print(
            f"CANNOT RUN: the CLIP weights {args.model!r} cannot be loaded here (no access to "
            f"the model hub and no local copy). Nothing was measured.\n{e}",
            file=sys.stderr,
        )
        return 3
    common = dict(
        model=args.model,
        dataset="cifar10",
        shots=args.shots,
        val_shots=0,
        test_per_class=args.test_per_class,
    )
    results: dict[str, list[float]] = {}
    facts: dict[str, float] = {}
    for seed in range(args.seeds):
        configs = {
            "noisy": ClipConfig(
                **common, noise=ClipNoiseConfig(kind="cifar10n", label_set=args.label_set)
            ),
            "pseudo": ClipConfig(**common, labels="pseudo", pseudo_pool=args.pseudo_pool),
        }
        splits = {}
        for kind, cfg in configs.items():
            adapter = ClipAdapter(cfg)
            adapter._backbone = backbone  # one frozen CLIP for every configuration
            splits[kind] = (adapter, adapter.build_datasets(root, seed=seed))
        a, s = splits["noisy"]
        facts["train_noise"] = s.info["noise_rate_train"]
        facts["pseudo_noise"] = splits["pseudo"][1].info["noise_rate_train"]
        methods = {
            "zero-shot CLIP": (splits["noisy"], "ce", 0.0),
            "CoOp + CE": (splits["noisy"], "ce", args.lr),
            "CoOp + GCE": (splits["noisy"], "gce", args.lr),
            "PTNL (zero-shot pseudo-labels) + GCE": (splits["pseudo"], "gce", args.lr),
        }
        for name, ((adapter, sp), loss, lr) in methods.items():
            if name == "zero-shot CLIP":
                acc = sp.info["zeroshot_test_accuracy"]
            else:
                acc = train_head(adapter, sp, loss=loss, epochs=args.epochs, lr=lr, seed=seed)
            results.setdefault(name, []).append(acc)
    setting = f"CIFAR-10 {args.shots}-shot, CIFAR-10N {args.label_set}"
    labels = {
        "zero-shot CLIP": "none",
        "CoOp + CE": f"{args.label_set} ({facts['train_noise']:.1%} wrong)",
        "CoOp + GCE": f"{args.label_set} ({facts['train_noise']:.1%} wrong)",
        "PTNL (zero-shot pseudo-labels) + GCE": f"pseudo ({facts['pseudo_noise']:.1%} wrong)",
    }
    table_rows, json_rows = [], []
    for name, accs in results.items():
        mean = sum(accs) / len(accs)
        table_rows.append([name, labels[name], mean, len(accs)])
        json_rows.append(row(setting, name, "clean_test_accuracy", mean, seeds=len(accs)))
    table = markdown_table(
        ["method", "training labels (last seed)", "clean test accuracy", "seeds"], table_rows
    )
    preamble = (
        f"{setting}; model {args.model}; {args.epochs} epochs, SGD lr {args.lr}; "
        f"test images per class: {args.test_per_class or 'all'}; "
        f"{time.time() - t0:.0f} s in total."
    )
    report("clip_cifar10n", table, json_rows, args.json, preamble)
    return 0


if __name__ == "__main__":
    sys.exit(main())
