"""CIFAR-10 JPEG zips and the CIFAR-10N human label sets, in their published formats.

Layout (see the data README, folders ``cifar10/`` and ``cifar10n/``):

* ``cifar10/{train,test}.zip``: stored zips with entries ``<class>/NNNN.jpg`` (32x32 RGB JPEG);
  ``cifar10/{train,test}_labels.csv``: ``zip_index,path,label,class_name`` (+ for train
  ``cifar10_train_index``, the image's position in the standard CIFAR-10 training order).
* ``cifar10n/CIFAR-10_human.pt``: a PyTorch zip container whose ``data.pkl`` is a pickle of a
  dict of ``int64 (50000,)`` arrays in the standard training order: ``clean_label``,
  ``aggre_label``, ``worse_label``, ``random_label1..3`` (Wei et al., "Learning with Noisy
  Labels Revisited: A Study Using Real-World Human Annotations", ICLR 2022).

The pickle is read with an allow-listed unpickler (numpy arrays and dtypes only), never with
``pickle.load`` or ``torch.load(weights_only=False)``. Typical use::

    images, noisy = load_cifar10n(data_root, "worst")      # zip order, noisy labels
    img = images.image(0)                                  # PIL.Image, RGB 32x32
    clean = images.labels                                  # clean labels, zip order
    d = load_arrays(data_root, "worst", train_size=2500)   # uint8 arrays, a fixed subset

* ``cifar10n/side_info_cifar10N.csv``: the worker ids of ``random_label1..3``, one row per
  batch of 10 consecutive training images (:func:`read_cifar10n_workers`).

This module needs numpy and Pillow only (no torch); the classification task
(``task: {name: classification, dataset: cifar10n}``) turns its arrays into training data.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np

from labelnoise._io import atomic_write

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    # the same function under its numpy 1 name
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

__all__ = [
    "CIFAR10N_LABEL_SETS",
    "CIFAR10N_WORKER_LABEL_SETS",
    "CIFAR10_CLASSES",
    "Cifar10Images",
    "LazyImages",
    "decode_images",
    "load_arrays",
    "load_cifar10n",
    "read_cifar10",
    "read_cifar10n",
    "read_cifar10n_workers",
]

#: CIFAR-10 class names in label order (Krizhevsky, 2009).
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

#: Our label-set names -> keys of the CIFAR-10N dict (``clean`` is the original label).
CIFAR10N_LABEL_SETS: dict[str, str] = {
    "clean": "clean_label",
    "aggre": "aggre_label",
    "random1": "random_label1",
    "random2": "random_label2",
    "random3": "random_label3",
    "worst": "worse_label",
}

#: The label sets written by one worker each: column k of :func:`read_cifar10n_workers`.
CIFAR10N_WORKER_LABEL_SETS: tuple[str, ...] = ("random1", "random2", "random3")

_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only builds numpy arrays (and the containers around them)."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"label file may only hold numpy arrays; got global {module}.{name}"
            ) from None


def read_cifar10n(path: str | Path, label_set: str) -> np.ndarray:
    """One CIFAR-10N label set, in the standard CIFAR-10 training order.

    Args:
        path: ``CIFAR-10_human.pt`` (or the bare ``data.pkl`` pickle).
        label_set: one of :data:`CIFAR10N_LABEL_SETS` (``clean``, ``aggre``, ``random1``,
            ``random2``, ``random3``, ``worst``).

    Returns:
        ``(50000,)`` int64 labels in ``[0, 10)``.
    """
    if label_set not in CIFAR10N_LABEL_SETS:
        raise ValueError(
            f"label_set must be one of {sorted(CIFAR10N_LABEL_SETS)}; got {label_set!r}"
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10N label file must exist; got {str(path)!r}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            members = [n for n in z.namelist() if n.endswith("data.pkl")]
            if len(members) != 1:
                raise ValueError(
                    f"label file must hold one '*/data.pkl' member; got {z.namelist()} in {path}"
                )
            raw = z.read(members[0])
    else:
        raw = path.read_bytes()
    try:
        data = _ArrayUnpickler(io.BytesIO(raw)).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise ValueError(f"label file {str(path)!r} could not be read: {e}") from None
    key = CIFAR10N_LABEL_SETS[label_set]
    if not isinstance(data, dict) or key not in data:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"label file {str(path)!r} must hold a dict with {key!r}; got {got}")
    labels = np.asarray(data[key])
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{key} must be a 1-D integer array; got shape {labels.shape}, dtype {labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise ValueError(f"{key} must be in [0, 10); got [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


@dataclass(eq=False)
class Cifar10Images:
    """The images of one CIFAR-10 zip, decoded lazily.

    Attributes:
        zip_path: the ``.zip`` file.
        paths: ``(N,)`` entry names in zip order (``airplane/0000.jpg``, ...).
        labels: ``(N,)`` clean labels (int64) in zip order.
        train_index: ``(N,)`` position of each image in the standard CIFAR-10 training order
            (the row of the CIFAR-10N arrays), or None for the test split.
        class_names: the ten class names.
    """

    zip_path: Path
    paths: tuple[str, ...]
    labels: np.ndarray
    train_index: np.ndarray | None
    class_names: tuple[str, ...] = CIFAR10_CLASSES
    _zip: tuple[int, zipfile.ZipFile] | None = field(default=None, repr=False, compare=False)
    # decoded pixels, filled on first use: (N, 32, 32, 3) uint8 (zero pages until touched)
    # and a (N,) mask of the rows filled
    _memo: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.paths)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_zip"] = None  # an open file handle does not travel to DataLoader workers
        state["_memo"] = None  # nor the decoded pixels (a worker decodes its own)
        return state

    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None or self._zip[0] != os.getpid():
            self._zip = (os.getpid(), zipfile.ZipFile(self.zip_path))
        return self._zip[1]

    def image(self, i: int):
        """Image ``i`` (zip order) as an RGB ``PIL.Image``; a member that is missing, fails
        its CRC or does not decode raises ``ValueError`` naming it."""
        from PIL import Image

        name = self.paths[i]
        try:
            raw = self._archive().read(name)
            with Image.open(io.BytesIO(raw)) as im:
                return im.convert("RGB")
        except Exception as e:  # zipfile.BadZipFile, KeyError, PIL.UnidentifiedImageError, ...
            raise ValueError(
                f"image {name!r} in {str(self.zip_path)!r} could not be read: {e}"
            ) from None

    def pixels(self, i: int) -> np.ndarray:
        """Image ``i`` as ``(32, 32, 3)`` uint8, decoded once per process and kept in memory
        (3 KB per image: 150 MB once all 50,000 training images have been used). Epochs after
        the first read the kept pixels instead of decoding the JPEG again. Returns a copy."""
        if self._memo is None:
            self._memo = (np.zeros((len(self), 32, 32, 3), np.uint8), np.zeros(len(self), bool))
        pixels, filled = self._memo
        if not filled[i]:
            arr = np.asarray(self.image(i), dtype=np.uint8)
            if arr.shape != (32, 32, 3):
                raise ValueError(
                    f"image {self.paths[i]!r} in {str(self.zip_path)!r} must be 32x32 RGB; "
                    f"got {arr.shape[1]}x{arr.shape[0]}"
                )
            pixels[i] = arr
            filled[i] = True
        return pixels[i].copy()

    def array(self, indices: np.ndarray | None = None) -> np.ndarray:
        """Decoded images ``(n, 32, 32, 3)`` uint8 (all, or ``indices``, in that order)."""
        idx = range(len(self)) if indices is None else np.asarray(indices).tolist()
        out = [self.pixels(i) for i in idx]
        return np.stack(out) if out else np.zeros((0, 32, 32, 3), np.uint8)

    def align(self, standard_labels: np.ndarray) -> np.ndarray:
        """Reorder labels given in the standard training order (CIFAR-10N) into zip order.

        ``standard_labels``: ``(50000,)``; its length must equal the number of images.
        """
        if self.train_index is None:
            raise ValueError(
                "align needs the train split (CIFAR-10N labels the training images); "
                "got the test split"
            )
        standard_labels = np.asarray(standard_labels)
        if standard_labels.shape != (len(self),):
            raise ValueError(
                f"label array must have length {len(self)} (the number of images in "
                f"{self.zip_path.name}); got shape {standard_labels.shape}"
            )
        return standard_labels[self.train_index]


def read_cifar10(folder: str | Path, split: Literal["train", "test"] = "train") -> Cifar10Images:
    """The CIFAR-10 images of ``folder/{split}.zip`` with ``folder/{split}_labels.csv``.

    The CSV's entry names must be the zip's entries in the same order; its ``label`` must
    match ``class_name``; for train, ``cifar10_train_index`` must be a permutation.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    folder = Path(folder)
    zip_path, csv_path = folder / f"{split}.zip", folder / f"{split}_labels.csv"
    for p in (zip_path, csv_path):
        if not p.is_file():
            raise FileNotFoundError(f"CIFAR-10 file must exist; got {str(p)!r}")
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    archive = zipfile.ZipFile(zip_path)  # kept open: image() reuses its directory
    names = [n for n in archive.namelist() if not n.endswith("/")]
    paths = tuple(r["path"] for r in rows)
    if list(paths) != names:
        raise ValueError(
            f"{csv_path.name} paths must list the entries of {zip_path.name} in order; "
            f"got {len(paths)} rows for {len(names)} entries"
        )
    labels = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    for line, r in enumerate(rows, start=2):
        if CIFAR10_CLASSES[int(r["label"])] != r["class_name"] or not r["path"].startswith(
            r["class_name"] + "/"
        ):
            raise ValueError(
                f"{csv_path.name} line {line}: label, class_name and path must agree; got "
                f"{r['label']}, {r['class_name']!r}, {r['path']!r}"
            )
    train_index = None
    if "cifar10_train_index" in (rows[0] if rows else {}):
        train_index = np.array([int(r["cifar10_train_index"]) for r in rows], dtype=np.int64)
        if not np.array_equal(np.sort(train_index), np.arange(len(rows))):
            raise ValueError(
                f"{csv_path.name} cifar10_train_index must be a permutation of 0..{len(rows) - 1}"
            )
    return Cifar10Images(zip_path, paths, labels, train_index, _zip=(os.getpid(), archive))


def load_cifar10n(
    data_root: str | Path, label_set: str, *, label_file: str | Path | None = None
) -> tuple[Cifar10Images, np.ndarray]:
    """CIFAR-10 training images with one CIFAR-10N label set, both in zip order.

    Args:
        data_root: folder holding ``cifar10/`` and ``cifar10n/``.
        label_set: ``clean``, ``aggre``, ``random1``, ``random2``, ``random3`` or ``worst``.
        label_file: default ``data_root/cifar10n/CIFAR-10_human.pt``.

    Returns:
        ``(images, noisy)``: ``noisy[i]`` is the label set's label of ``images.image(i)``;
        ``images.labels`` are the clean labels. The clean labels of the label file are checked
        against the CSV's (a wrong mapping is an error, not silent noise).
    """
    data_root = Path(data_root)
    label_file = Path(label_file) if label_file is not None else None
    label_file = label_file or data_root / "cifar10n" / "CIFAR-10_human.pt"
    noisy_std = read_cifar10n(label_file, label_set)
    images = read_cifar10(data_root / "cifar10", "train")
    noisy = images.align(noisy_std)
    clean = images.align(read_cifar10n(label_file, "clean"))
    mismatch = int((clean != images.labels).sum())
    if mismatch:
        raise ValueError(
            f"clean_label of {label_file.name} must match the CSV labels under the index "
            f"mapping; got {mismatch} mismatches"
        )
    return images, noisy


def read_cifar10n_workers(path: str | Path, num_images: int = 50_000) -> np.ndarray:
    """Worker ids of the three CIFAR-10N annotations, in the standard training order.

    Args:
        path: ``side_info_cifar10N.csv`` (header ``Image-batch,Worker1-id,...``; each row's
            ``Image-batch`` is an inclusive range ``a--b`` of training indices).
        num_images: number of training images every index must fall in (50,000).

    Returns:
        ``(num_images, 3)`` int64: column k is the worker who wrote ``random_label{k+1}``
        (Wei et al., ICLR 2022); -1 where the file lists no worker for an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10N side-info file must exist; got {str(path)!r}")
    out = np.full((num_images, 3), -1, dtype=np.int64)
    cols = ("Worker1-id", "Worker2-id", "Worker3-id")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("Image-batch", *cols) if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(
                    f"{path.name} must have columns Image-batch, {', '.join(cols)}; missing {missing}"
                )
            for line, r in enumerate(reader, start=2):
                try:
                    a, b = (int(v) for v in r["Image-batch"].split("--"))
                    ids = [int(r[c]) for c in cols]
                except (ValueError, TypeError, AttributeError):  # a short row has None cells
                    raise ValueError(
                        f"{path.name} line {line}: Image-batch must be 'a--b' and worker ids "
                        f"integers; got {r['Image-batch']!r}, {[r[c] for c in cols]}"
                    ) from None
                if not 0 <= a <= b < num_images:
                    raise ValueError(
                        f"{path.name} line {line}: Image-batch must lie in [0, {num_images}); "
                        f"got {a}--{b}"
                    )
                out[a : b + 1] = ids
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path.name} must be UTF-8 CSV text; got a byte that is not UTF-8 at offset {e.start}"
        ) from None
    except csv.Error as e:
        raise ValueError(f"{path.name} must be a CSV file; got {e}") from None
    return out


class LazyImages:
    """Images ``indices`` of a zip, decoded when indexed: ``lazy[i] -> (32, 32, 3) uint8``."""

    def __init__(self, images: Cifar10Images, indices: np.ndarray) -> None:
        self.images, self.indices = images, np.asarray(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            return self.images.pixels(int(self.indices[i]))
        return LazyImages(self.images, self.indices[i])


def decode_images(
    images: Cifar10Images, indices: np.ndarray, *, cache_dir: str | Path | None = None
) -> np.ndarray | LazyImages:
    """Images ``indices`` of ``images``: ``(len(indices), 32, 32, 3)`` uint8.

    With ``cache_dir``, all images of the zip are decoded once into
    ``cache_dir/cifar10_<zip stem>_<zip bytes>.npy`` (150 MB for the 50k training images)
    and later calls read that file; without it a :class:`LazyImages` decodes each image when
    it is used (a smoke run touching 48 images decodes 48).
    """
    if cache_dir is None:
        return LazyImages(images, indices)
    size = images.zip_path.stat().st_size
    path = Path(cache_dir).expanduser() / f"cifar10_{images.zip_path.stem}_{size}.npy"
    if path.is_file():
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        if arr.shape != (len(images), 32, 32, 3) or arr.dtype != np.uint8:
            raise ValueError(
                f"image cache {str(path)!r} must hold uint8 ({len(images)}, 32, 32, 3); "
                f"got {arr.dtype} {arr.shape} (delete it to rebuild)"
            )
    else:
        arr = images.array()
        with atomic_write(path, "wb") as f:
            np.save(f, arr, allow_pickle=False)
    return np.ascontiguousarray(arr[np.asarray(indices)])


class Cifar10NArrays(TypedDict):
    """What :func:`load_arrays` returns (shapes in its docstring)."""

    x: np.ndarray | LazyImages
    noisy: np.ndarray
    clean: np.ndarray
    index: np.ndarray
    worker: np.ndarray
    x_test: np.ndarray | LazyImages
    y_test: np.ndarray


def load_arrays(
    data_root: str | Path,
    label_set: str,
    *,
    train_size: int | None = None,
    subset_seed: int = 0,
    cache_dir: str | Path | None = None,
) -> Cifar10NArrays:
    """Training images with noisy and clean labels, and the clean test split, as arrays.

    Args:
        data_root: folder holding ``cifar10/`` and ``cifar10n/``.
        label_set: a CIFAR-10N label set (``aggre``, ``random1..3``, ``worst``, ``clean``).
        train_size: keep a random subset of this many training images (``None``: all 50,000).
        subset_seed: seed of that subset (fixed, so every run sees the same images).
        cache_dir: decode each zip once into a ``.npy`` here (see :func:`decode_images`).

    Returns:
        ``x (n, 32, 32, 3) uint8``, ``noisy (n,)``, ``clean (n,)``, ``index (n,)`` (zip order
        position), ``x_test (10000, 32, 32, 3)``, ``y_test (10000,)``, and ``worker (n,)``:
        the id of the worker who wrote each label for ``random1..3`` (from
        ``cifar10n/side_info_cifar10N.csv``), -1 for the other label sets.
    """
    images, noisy = load_cifar10n(data_root, label_set)
    n = len(images)
    if train_size is not None and not 0 < train_size <= n:
        raise ValueError(f"train_size must be in [1, {n}]; got {train_size}")
    index = np.arange(n)
    if train_size is not None and train_size < n:
        index = np.sort(np.random.default_rng(subset_seed).permutation(n)[:train_size])
    worker = np.full(len(index), -1, dtype=np.int64)
    if label_set in CIFAR10N_WORKER_LABEL_SETS:
        side = Path(data_root) / "cifar10n" / "side_info_cifar10N.csv"
        column = CIFAR10N_WORKER_LABEL_SETS.index(label_set)
        assert images.train_index is not None  # the train split has it
        worker = read_cifar10n_workers(side, n)[images.train_index[index], column]
    test = read_cifar10(Path(data_root) / "cifar10", "test")
    return {
        "x": decode_images(images, index, cache_dir=cache_dir),
        "noisy": noisy[index],
        "clean": images.labels[index],
        "index": index,
        "worker": worker,
        "x_test": decode_images(test, np.arange(len(test)), cache_dir=cache_dir),
        "y_test": test.labels.copy(),
    }
