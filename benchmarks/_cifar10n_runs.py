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


def ood_images(data_dir: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """The OOD sets, ``uint8 (N, 32, 32, 3)`` each, from ``data_dir`` (fixed by ``seed``):

    - ``bsds500_crop``: 5 random 32x32 crops (native resolution) of each of the 300 BSDS500
      train + val photographs (1,500 images);
    - ``bsds500_resize``: each whole BSDS500 photograph resized to 32x32 (300 images);
    - ``isbi2012``: 10 random 128x128 crops of each of the 60 ISBI-2012 EM slices (30 train,
      30 test; grey, repeated on 3 channels), resized to 32x32 (600 images).
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    bsds = sorted((data_dir / "bsds500" / "images").glob("*/*.jpg"))
    em = sorted((data_dir / "isbi2012" / "train" / "image").glob("*.png"))
    em += sorted((data_dir / "isbi2012" / "test").glob("*.png"))
    if len(bsds) != 300 or len(em) != 60:
        raise FileNotFoundError(
            f"--data-dir must hold bsds500/images/{{train,val}}/*.jpg (300) and isbi2012 "
            f"train/image + test *.png (60); got {len(bsds)} and {len(em)}"
        )

    def crops(img: Image.Image, size: int, count: int) -> list[np.ndarray]:
        w, h = img.size
        out = []
        for _ in range(count):
            x0, y0 = int(rng.integers(0, w - size + 1)), int(rng.integers(0, h - size + 1))
            c = img.crop((x0, y0, x0 + size, y0 + size))
            out.append(np.asarray(c.resize((32, 32), Image.Resampling.BILINEAR)))
        return out

    crop, resize, slices = [], [], []
    for path in bsds:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            crop += crops(rgb, 32, 5)
            resize.append(np.asarray(rgb.resize((32, 32), Image.Resampling.BILINEAR)))
    for path in em:
        with Image.open(path) as im:
            slices += crops(im.convert("RGB"), 128, 10)
    return {
        "bsds500_crop": np.stack(crop).astype(np.uint8),
        "bsds500_resize": np.stack(resize).astype(np.uint8),
        "isbi2012": np.stack(slices).astype(np.uint8),
    }


def export(method: str, seed: int, data_dir: Path) -> Path:
    """Write ``outputs.npz`` of one finished run (skipped when present): ``{split}_logits``
    ``(N, 10)``, ``{split}_features`` ``(N, D)``, ``{split}_noisy`` / ``{split}_clean`` /
    ``{split}_index`` ``(N,)`` (index: the image's zip position) for train / val / test, and
    ``ood_{name}_logits`` / ``_features`` for each set of :func:`ood_images`."""
    from labelnoise._io import atomic_write
    from labelnoise.engine.export import load_finished_run, predict_outputs
    from labelnoise.tasks.classification import ImageArrayDataset

    out = run_dir(method, seed) / OUTPUTS
    if out.is_file():
        return out
    run = load_finished_run(run_dir(method, seed))
    arrays: dict[str, Any] = {}  # Any: numpy's stub binds a key to savez's allow_pickle
    for split in ("train", "val", "test"):
        o = predict_outputs(run, split)
        arrays |= {f"{split}_{k}": v for k, v in o.items()}
        arrays[f"{split}_index"] = np.asarray(getattr(run.splits, split).index)
    for name, images in ood_images(data_dir).items():
        zeros = np.zeros(len(images), dtype=np.int64)
        o = predict_outputs(run, ImageArrayDataset(images, zeros, zeros))
        arrays |= {f"ood_{name}_{k}": o[k] for k in ("logits", "features")}
    with atomic_write(out, "wb") as f:
        np.savez(f, **arrays)
    return out


def known_transition(data_dir: Path, exclude: np.ndarray) -> np.ndarray:
    """``T[i, j] = P(worst = j | clean = i)`` counted on the 50,000 CIFAR-10N training images
    except ``exclude`` (zip positions: the calibration images): the noise model "known" from
    the published label set, not from the calibration labels."""
    from labelnoise.common.datasets.cifar10n import load_cifar10n
    from labelnoise.common.transition import TransitionMatrix

    images, noisy = load_cifar10n(data_dir, "worst")
    keep = np.ones(len(noisy), dtype=bool)
    keep[exclude] = False
    clean = np.asarray(images.labels)[keep]
    return TransitionMatrix.from_counts(clean, np.asarray(noisy)[keep], num_classes=10).numpy()


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
