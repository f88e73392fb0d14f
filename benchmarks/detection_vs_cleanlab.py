"""Label-issue detection: labelnoise vs cleanlab 2.9, same answers, time and peak memory.

Classification: ``find_label_issues`` (default ``prune_by_noise_rate``) on N = 1M, K = 10 and
N = 200k, K = 100 synthetic out-of-sample probabilities with 20 % uniform label noise; both
libraries on the same arrays in the same run; the mask must be identical.

Segmentation: 1,000 images of 250 x 250 with 10 classes, streamed from a generator in chunks
of 2 images through ``find_label_issues_streaming``, in a subprocess whose peak RSS is read
with ``resource.getrusage``. cleanlab's ``segmentation.filter.find_label_issues`` needs the
full ``(N, K, H, W)`` array (2.5 GB at this size) and minutes, so it runs on a smaller number
of images (``--cleanlab-seg-images``) in its own subprocess and its time is extrapolated
linearly to 1,000 images; the masks are compared on that subset. The streamed run sets
``torch.set_num_threads(1)`` (its per-image softmin goes through torch): on the shared 2-core
machine torch's two intra-op threads thrashed against other processes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, parser, report, row  # noqa: E402

H = W = 250
K_SEG = 10
POOL = 8
CHUNK = 2


def classification_data(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), true] += 3.0
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    labels = true.copy()
    flip = rng.random(n) < 0.2
    labels[flip] = rng.integers(0, k, int(flip.sum()))
    return labels, p


def _pool(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K_SEG, (POOL, H, W))
    logits = rng.standard_normal(size=(POOL, K_SEG, H, W), dtype=np.float32)
    np.put_along_axis(logits, y[:, None], np.take_along_axis(logits, y[:, None], 1) + 2.0, 1)
    p = np.exp(logits, out=logits)
    p /= p.sum(axis=1, keepdims=True)
    noisy = y.copy()
    flip = rng.random(y.shape) < 0.1
    noisy[flip] = rng.integers(0, K_SEG, int(flip.sum()))
    return noisy, p


def image_chunks(n_images: int):
    """A generator function: chunks of ``CHUNK`` images cycling through a pool of ``POOL``."""
    labels, probs = _pool()

    def gen():
        for s in range(0, n_images, CHUNK):
            idx = [(s + i) % POOL for i in range(min(CHUNK, n_images - s))]
            yield labels[idx], probs[idx]

    return gen


def _rss_mb() -> float:
    """Peak RSS of this process so far (``ru_maxrss``, KiB on Linux) in MiB.

    ``ru_maxrss`` carries the parent's peak across fork + exec, so the children are started
    before the parent imports or allocates anything large (the parent is ~30 MB then).
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seg_child(which: str, n_images: int, out: str) -> None:
    """Run one segmentation detector in this (fresh) process and dump time, RSS and mask."""
    if which == "ours":
        import torch

        from labelnoise.common.detection import find_label_issues_streaming

        torch.set_num_threads(1)

        gen = image_chunks(n_images)
        base = _rss_mb()
        t = time.perf_counter()
        res = find_label_issues_streaming(gen, K_SEG, keep_unit_quality=False)
        secs = time.perf_counter() - t
        mask = res.is_issue.reshape(n_images, H, W)
    else:
        from cleanlab.segmentation.filter import find_label_issues

        chunks = list(image_chunks(n_images)())
        labels = np.concatenate([c[0] for c in chunks])
        probs = np.concatenate([c[1] for c in chunks])
        del chunks
        base = _rss_mb()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mask = find_label_issues(labels, probs, verbose=False)
        secs = time.perf_counter() - t
    np.save(out + ".npy", np.packbits(mask))
    Path(out).write_text(json.dumps({"seconds": secs, "peak_mb": _rss_mb(), "base_mb": base}))


def _run_child(which: str, n_images: int, tmp: Path) -> dict:
    out = str(tmp / f"seg_{which}_{n_images}.json")
    cmd = [sys.executable, __file__, "--seg-child", which, str(n_images), out]
    subprocess.run(cmd, check=True)
    res = json.loads(Path(out).read_text())
    res["mask"] = np.unpackbits(np.load(out + ".npy"))[: n_images * H * W].astype(bool)
    return res


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main() -> None:
    p = parser(__doc__.splitlines()[0], needs_data=False)
    p.add_argument("--seg-images", type=int, default=1000)
    p.add_argument("--cleanlab-seg-images", type=int, default=100)
    p.add_argument("--sizes", default="1000000x10,200000x100", help="NxK,NxK classification")
    p.add_argument("--seg-child", nargs=3, metavar=("WHICH", "N", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.seg_child:
        seg_child(args.seg_child[0], int(args.seg_child[1]), args.seg_child[2])
        return
    import tempfile

    m = args.cleanlab_seg_images
    with tempfile.TemporaryDirectory() as tmp:
        seg = _run_child("ours", args.seg_images, Path(tmp))
        seg_small = _run_child("ours", m, Path(tmp))
        seg_ref = _run_child("cleanlab", m, Path(tmp))

    import cleanlab.filter

    from labelnoise.common.detection import find_label_issues

    header = ["setting", "labelnoise s", "cleanlab s", "time ratio", "issues", "mask Jaccard"]
    table, rows = [], []
    for spec in args.sizes.split(","):
        n, k = (int(v) for v in spec.split("x"))
        labels, probs = classification_data(n, k)
        t = time.perf_counter()
        ours = find_label_issues(labels, probs)
        t_ours = time.perf_counter() - t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            ref = cleanlab.filter.find_label_issues(labels, probs)
            t_ref = time.perf_counter() - t
        jac = _jaccard(ours, ref)
        setting = f"find_label_issues N={n:,} K={k}"
        table.append([setting, t_ours, t_ref, t_ours / t_ref, int(ours.sum()), jac])
        rows += [
            row(setting, "labelnoise", "seconds", t_ours),
            row(setting, "cleanlab", "seconds", t_ref),
            row(setting, "labelnoise/cleanlab", "time_ratio", t_ours / t_ref, jaccard=jac),
        ]
    scale = args.seg_images / m
    t_ref = seg_ref["seconds"] * scale
    jac = _jaccard(seg_small["mask"], seg_ref["mask"])
    setting = f"segmentation {args.seg_images} x {H}x{W}, K={K_SEG}, streamed"
    table.append(
        [
            setting,
            seg["seconds"],
            f"{t_ref:.4g} (= {seg_ref['seconds']:.4g} s on {m} images x {scale:g})",
            seg["seconds"] / t_ref,
            int(seg["mask"].sum()),
            f"{jac:.6f} (on {m} images)",
        ]
    )
    rows += [
        row(setting, "labelnoise/cleanlab", "time_ratio", seg["seconds"] / t_ref, jaccard=jac),
        row(setting, "labelnoise", "peak_rss_mb", seg["peak_mb"], base_mb=seg["base_mb"]),
        row(setting, "cleanlab", "peak_rss_mb", seg_ref["peak_mb"], images=m),
    ]
    mem = markdown_table(
        ["process", "images", "peak RSS MB", "RSS after imports and data MB"],
        [
            ["labelnoise streaming", args.seg_images, seg["peak_mb"], seg["base_mb"]],
            ["labelnoise streaming", m, seg_small["peak_mb"], seg_small["base_mb"]],
            ["cleanlab segmentation", m, seg_ref["peak_mb"], seg_ref["base_mb"]],
        ],
    )
    report("detection_vs_cleanlab", markdown_table(header, table) + "\n\n" + mem, rows, args.json)


if __name__ == "__main__":
    main()
