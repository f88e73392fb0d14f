"""The trained CIFAR-10N runs shared by ``conformal_cifar10n.py`` and ``ood_cifar10n.py``.

One run per (training method, seed): ``recipes/cifar10n/worst_small_cnn.yaml`` (variant
``ce``, ``gce`` or ``coteaching``) through :func:`labelnoise.engine.train`, with the recipe's
CPU protocol (2,500 training images with CIFAR-10N ``worst`` labels, width-32 CNN, no
augmentation, Adam 1e-3, 20 epochs, last epoch) and one change: the recipe's random subset is
``--train-size 4500`` images of which 2,000 (``task.val_fraction``) are held out as the
validation split -- never trained on, their noisy ``worst`` labels are the conformal
calibration set. Detection is off. Run directories live under ``runs/cifar10n_conformal_ood/``
(git-ignored); a finished run is reused (``resume``).

After training, :func:`export` runs the selected model once over the train / val / test splits
and the OOD images (:mod:`labelnoise.engine.export`) and keeps the logits, penultimate features
and labels in ``outputs.npz`` beside the run, so the two benchmarks read arrays only.

    python benchmarks/_cifar10n_runs.py --data-dir ../shared/data --methods ce gce coteaching \
        --seeds 0 1 2 --jobs 2
"""

from __future__ import annotations

import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir_or_exit, parser

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "cifar10n_conformal_ood"
RECIPE = "recipes/cifar10n/worst_small_cnn.yaml"
TRAIN_SIZE, N_CAL = 4500, 2000  # 2,500 trained on (the recipe's protocol), 2,000 held out
OUTPUTS = "outputs.npz"


def run_dir(method: str, seed: int) -> Path:
    return RUNS / f"{method}_s{seed}"


def overrides(seed: int, epochs: int) -> dict[str, Any]:
    """Dotted overrides of every run (beside the variant)."""
    return {
        "seed": seed,
        "task.train_size": TRAIN_SIZE,
        "task.val_fraction": N_CAL / TRAIN_SIZE,
        "train.epochs": epochs,
        "train.eval_every": epochs,
        "train.num_threads": 1,
        "train.progress": False,
        "detection.method": "none",
    }


def describe(method: str, seed: int, epochs: int) -> str:
    """``recipe [variant] --key=value ...``: a run's provenance."""
    return f"{RECIPE} [{method}]" + "".join(
        f" --{k}={v}" for k, v in overrides(seed, epochs).items() if k != "train.progress"
    )


def build_config(method: str, seed: int, epochs: int, data_dir: str, cache_dir: str) -> Any:
    from labelnoise.config import load_recipe, resolve

    flat = overrides(seed, epochs) | {
        "output_dir": str(run_dir(method, seed)),
        "data.data_dir": data_dir,
        "task.cache_dir": cache_dir,
    }
    nested: dict[str, Any] = {}
    for key, v in flat.items():
        *parents, last = key.split(".")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = v
    return resolve(load_recipe(ROOT / RECIPE), nested, variant=method)


def _train(job: tuple[str, int, int, str, str]) -> dict[str, Any]:
    method, seed, epochs, data_dir, cache_dir = job
    from labelnoise.engine import train

    t0 = time.time()
    cfg = build_config(method, seed, epochs, data_dir, cache_dir)
    resume = (run_dir(method, seed) / "config.yaml").is_file()  # reuse a finished run
    metrics = train(cfg, resume=resume, overwrite=not resume)
    return {
        "method": method,
        "seed": seed,
        "acc": metrics["test"]["accuracy"],
        "sec": time.time() - t0,
        "run_dir": str(cfg.run_dir),
    }


def export(method: str, seed: int, ood: dict[str, np.ndarray]) -> Path:
    """Write ``outputs.npz`` of one finished run (skipped when present): ``{split}_logits``
    ``(N, 10)``, ``{split}_features`` ``(N, D)``, ``{split}_noisy`` / ``{split}_clean`` ``(N,)``
    for train / val / test, and ``ood_{name}_logits`` / ``_features`` for each OOD set."""
    from labelnoise._io import atomic_write
    from labelnoise.engine.export import load_finished_run, predict_outputs

    out = run_dir(method, seed) / OUTPUTS
    if out.is_file():
        return out
    run = load_finished_run(run_dir(method, seed))
    arrays: dict[str, Any] = {}  # Any: numpy's stub binds a key to savez's allow_pickle
    for split in ("train", "val", "test"):
        o = predict_outputs(run, split)
        arrays |= {f"{split}_{k}": v for k, v in o.items()}
    for name, images in ood.items():
        o = predict_outputs(run, images)
        arrays |= {f"ood_{name}_{k}": v for k, v in o.items() if k in ("logits", "features")}
    with atomic_write(out, "wb") as f:
        np.savez(f, **arrays)
    return out


def load_outputs(method: str, seed: int) -> dict[str, np.ndarray]:
    with np.load(run_dir(method, seed) / OUTPUTS, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["ce", "gce", "coteaching"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cache-dir", type=Path, default=Path("~/.cache/labelnoise").expanduser())
    a = p.parse_args()
    data_dir = data_dir_or_exit(a)
    jobs = [(m, s, a.epochs, str(data_dir), str(a.cache_dir)) for s in a.seeds for m in a.methods]
    t0 = time.time()
    with get_context("spawn").Pool(a.jobs) as pool:
        for r in pool.imap_unordered(_train, jobs):
            print(f"[{time.time() - t0:.0f} s] {r}", flush=True)


if __name__ == "__main__":
    main()
