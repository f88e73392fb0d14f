"""OOD detection by classifiers trained on noisy CIFAR-10N labels: detectors x training methods.

Models: the runs of ``benchmarks/_cifar10n_runs.py`` (``recipes/cifar10n/worst_small_cnn.yaml``
variants ``ce``, ``gce``, ``coteaching`` through :func:`labelnoise.engine.train`: 2,500
training images with CIFAR-10N ``worst`` labels (40 % noise), width-32 CNN, 20 epochs, last
epoch). In-distribution: the 10,000 CIFAR-10 test images. OOD (from ``--data-dir``, none of it
CIFAR): ``bsds500_crop`` (1,500 random 32x32 native-resolution crops of the 300 BSDS500
train + val photographs), ``bsds500_resize`` (the 300 photographs resized to 32x32) and
``isbi2012`` (600 random 128x128 crops of the 60 ISBI-2012 EM slices, resized to 32x32).

Detectors (:mod:`labelnoise.common.ood`): MSP, max-logit, energy (T = 1) from the logits;
Mahalanobis (class means + tied covariance of the 2,500 training images' penultimate
features, grouped by their noisy ``worst`` labels -- and, as a reference, by their clean
labels) and deep kNN (k = 50, normalised features). Nothing is tuned: the papers' defaults.
AUROC (in-distribution = positive) and FPR at 95 % TPR; mean over the seeds present.

    python benchmarks/_cifar10n_runs.py --data-dir ../shared/data  # trains the runs once
    python benchmarks/ood_cifar10n.py --data-dir ../shared/data --json out.json
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from _cifar10n_runs import describe, export, load_outputs, run_dir
from _common import data_dir_or_exit, markdown_table, parser, report, row

OOD_SETS = ("bsds500_crop", "bsds500_resize", "isbi2012")
DETECTORS = ("msp", "max_logit", "energy", "mahalanobis", "mahalanobis (clean labels)", "knn")


def detector_scores(o: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """``{"id": ..., <ood set>: ...}`` scores of one detector."""
    from labelnoise.common.ood import (
        KNNDetector,
        MahalanobisDetector,
        energy_score,
        max_logit_score,
        msp_score,
    )

    parts = {"id": "test"} | {s: f"ood_{s}" for s in OOD_SETS}
    if name in ("msp", "max_logit", "energy"):
        fn = {"msp": msp_score, "max_logit": max_logit_score, "energy": energy_score}[name]
        return {k: fn(o[f"{v}_logits"]) for k, v in parts.items()}
    if name == "knn":
        det: Any = KNNDetector(o["train_features"], k=50)
    else:
        labels = o["train_clean"] if "clean" in name else o["train_noisy"]
        det = MahalanobisDetector(o["train_features"], labels, num_classes=10)
    return {k: det.score(o[f"{v}_features"]) for k, v in parts.items()}


def main() -> None:
    from labelnoise.common.ood import fpr_at_tpr, ood_auroc

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["ce", "gce", "coteaching"])
    a = p.parse_args()
    data_dir = data_dir_or_exit(a)
    t0 = time.time()
    res: dict[tuple[str, str, str, str], list[float]] = {}
    accs: dict[str, list[float]] = {}
    rows, provenance = [], []
    for method in a.methods:
        for seed in a.seeds:
            if not (run_dir(method, seed) / "metrics.json").is_file():
                continue
            export(method, seed, data_dir)
            o = load_outputs(method, seed)
            acc = float((o["test_logits"].argmax(1) == o["test_clean"]).mean())
            accs.setdefault(method, []).append(acc)
            provenance.append(
                f"- {method} seed {seed}: `{describe(method, seed, 20)}` (clean test acc "
                f"{100 * acc:.2f} %)"
            )
            for det in DETECTORS:
                sc = detector_scores(o, det)
                for ood in OOD_SETS:
                    vals = {
                        "auroc": ood_auroc(sc["id"], sc[ood]),
                        "fpr95": fpr_at_tpr(sc["id"], sc[ood]),
                    }
                    for metric, v in vals.items():
                        res.setdefault((method, det, ood, metric), []).append(v)
                        rows.append(
                            row(f"cifar10n worst vs {ood}", f"{method} {det}", metric, v, seed=seed)
                        )
    if not accs:
        raise SystemExit("no finished run: run benchmarks/_cifar10n_runs.py first")
    table = []
    for method in accs:
        for det in DETECTORS:
            cells = []
            for metric in ("auroc", "fpr95"):
                for ood in OOD_SETS:
                    cells.append(100 * float(np.mean(res[(method, det, ood, metric)])))
            table.append(
                [
                    method,
                    len(accs[method]),
                    f"{100 * np.mean(accs[method]):.2f}",
                    det,
                    *[f"{c:.1f}" for c in cells],
                ]
            )
    header = ["training", "seeds", "clean acc %", "detector"]
    header += [f"AUROC {s}" for s in OOD_SETS] + [f"FPR95 {s}" for s in OOD_SETS]
    preamble = (
        f"{__doc__.split(chr(10) + chr(10))[1]}\n\n{__doc__.split(chr(10) + chr(10))[2]}\n\n"
        f"AUROC and FPR95 in %. Wall time {time.time() - t0:.0f} s (load average "
        f"{os.getloadavg()[0]:.1f}).\n\nRuns:\n" + "\n".join(provenance)
    )
    report("ood_cifar10n", markdown_table(header, table), rows, a.json, preamble)


if __name__ == "__main__":
    main()
