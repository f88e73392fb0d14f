"""Typed run configuration: dataclasses with defaults in code, YAML recipes list only overrides.

A recipe is a YAML mapping whose top-level keys are the fields of :class:`RunConfig`
(``docs/recipes.md`` is the reference). Resolution order, later wins:

1. the defaults below (and the task adapter's ``Config`` defaults for the ``task`` section);
2. the recipe's keys;
3. one entry of the recipe's ``variants`` (when it has variants);
4. dotted command-line overrides, ``--loss.q=0.5`` (values parsed as YAML scalars).

Every key is checked: an unknown key or a value of the wrong type raises ``ValueError``
naming the dotted key, the expected type and the value received. ``loss`` and ``selector``
options are checked against the signature of the registered builder.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from labelnoise._typed import CliValue, build, coerce, plain

__all__ = [
    "DataConfig",
    "DetectionConfig",
    "OptimConfig",
    "RunConfig",
    "ComponentConfig",
    "TaskConfig",
    "TrainConfig",
    "load_recipe",
    "parse_overrides",
    "resolve",
    "to_dict",
    "dump_yaml",
]


@dataclass
class DataConfig:
    """Generic data options (the task section holds the task's own data options).

    Attributes:
        data_dir: root of the data files; ``None`` -> ``$LABELNOISE_DATA`` (or none needed).
        limit: keep only the first ``limit`` training examples (smoke tests, debugging).
        eval_limit: keep only the first ``eval_limit`` validation and test examples.
        batch_size: training batch size per process.
        eval_batch_size: evaluation batch size per process.
        num_workers: DataLoader workers.
    """

    data_dir: str | None = None
    limit: int | None = None
    eval_limit: int | None = None
    batch_size: int = 64
    eval_batch_size: int = 256
    num_workers: int = 0

    def __post_init__(self) -> None:
        for key in ("limit", "eval_limit"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise ValueError(f"data.{key} must be >= 1 or null (no limit); got {v!r}")
        for key in ("batch_size", "eval_batch_size"):
            if getattr(self, key) < 1:
                raise ValueError(f"data.{key} must be >= 1; got {getattr(self, key)!r}")
        if self.num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0; got {self.num_workers!r}")


@dataclass
class ComponentConfig:
    """A registry entry and its options: ``loss: {name: gce, q: 0.7}`` (options flat)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SamConfig:
    """Sharpness-aware minimization (Foret et al., ICLR 2021; see
    :mod:`labelnoise.engine.sam`): two forward/backward passes per step.

    Attributes:
        rho: the neighbourhood radius; 0 turns SAM off (default). The paper uses 0.05
            (0.5 - 2 for ``adaptive``).
        adaptive: ASAM's scale-invariant neighbourhood (Kwon et al., ICML 2021).
    """

    rho: float = 0.0
    adaptive: bool = False

    def __post_init__(self) -> None:
        if not (self.rho >= 0 and math.isfinite(self.rho)):
            raise ValueError(f"optim.sam.rho must be a finite number >= 0; got {self.rho!r}")


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule.

    Attributes:
        name: ``adamw``, ``adam`` or ``sgd`` (Nesterov-free momentum SGD).
        lr: peak learning rate.
        weight_decay: decoupled for AdamW, L2 for the others.
        momentum: SGD momentum.
        scheduler: ``constant``, ``cosine`` (to 0 at the last step) or ``linear`` decay.
        warmup_steps: linear warm-up steps before the schedule.
        hold_fraction: fraction of the steps after warm-up spent at the peak rate before the
            cosine / linear decay starts, in ``[0, 1)`` (default 0). Co-teaching's CIFAR
            protocol (Han et al., NeurIPS 2018: Adam, decay from epoch 80 of 200) is
            ``scheduler: linear, hold_fraction: 0.4``.
        sam: sharpness-aware minimization (:class:`SamConfig`; off by default).
    """

    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: Literal["constant", "cosine", "linear"] = "constant"
    warmup_steps: int = 0
    hold_fraction: float = 0.0
    sam: SamConfig = field(default_factory=SamConfig)

    def __post_init__(self) -> None:
        if not self.lr >= 0:  # 0: no training (e.g. a zero-shot evaluation recipe)
            raise ValueError(f"optim.lr must be >= 0; got {self.lr!r}")
        if self.weight_decay < 0:
            raise ValueError(f"optim.weight_decay must be >= 0; got {self.weight_decay!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"optim.warmup_steps must be >= 0; got {self.warmup_steps!r}")
        if not 0.0 <= self.hold_fraction < 1.0:
            raise ValueError(f"optim.hold_fraction must be in [0, 1); got {self.hold_fraction!r}")


@dataclass
class TrainConfig:
    """The loop's options.

    Attributes:
        epochs: passes over the training set.
        max_steps: stop after this many optimizer steps (overrides ``epochs`` when smaller).
        grad_accum: gradient-accumulation steps per optimizer step.
        mixed_precision: ``no``, ``fp16`` or ``bf16`` (Accelerate's flag).
        max_grad_norm: clip gradients to this norm (``None``: no clipping).
        select_by: model selection on the ``clean_val`` or ``noisy_val`` split (the primary
            metric of the task), or keep the ``last`` model. Papers differ; metrics.json says
            which rule was used.
        early_stopping: stop after this many evaluations without improvement (``None``: off).
        eval_every: evaluate every this many epochs (the last epoch is always evaluated).
        checkpoint_every: save a resumable checkpoint every this many optimizer steps
            (``None``: only at the end of each epoch).
        checkpoint_every_epochs: write the end-of-epoch checkpoint only every this many
            epochs (and at the last one); 1: every epoch. A resumed run replays the epochs
            since its newest checkpoint (same result); fewer saves make runs of many tiny
            epochs (full-batch graphs) several times faster.
        keep_checkpoints: how many recent checkpoints to keep.
        progress: show a tqdm bar on the main process.
        cpu: force CPU even when an accelerator is present.
        num_threads: ``torch.set_num_threads`` for this process (``None``: torch's default).
            Tiny models on a busy CPU run many times faster on 1 thread.
        record_dynamics: record every example's loss, margin and softmax in every epoch
            (``dynamics.npz``, the ``last_loss`` / ``mean_margin`` columns of
            label_issues.csv, ``detection.method: dynamics``). ``false`` skips it: a few
            percent faster per epoch for tiny models (``benchmarks/engine_overhead.py``).
    """

    epochs: int = 10
    max_steps: int | None = None
    grad_accum: int = 1
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    max_grad_norm: float | None = None
    select_by: Literal["clean_val", "noisy_val", "last"] = "noisy_val"
    early_stopping: int | None = None
    eval_every: int = 1
    checkpoint_every: int | None = None
    checkpoint_every_epochs: int = 1
    keep_checkpoints: int = 1
    progress: bool = True
    cpu: bool = False
    num_threads: int | None = None
    record_dynamics: bool = True

    def __post_init__(self) -> None:
        for key in ("epochs", "grad_accum", "eval_every", "keep_checkpoints"):
            if getattr(self, key) < 1:
                raise ValueError(f"train.{key} must be >= 1; got {getattr(self, key)!r}")
        for key in ("max_steps", "checkpoint_every", "early_stopping", "num_threads"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise ValueError(f"train.{key} must be >= 1 or null; got {v!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"train.max_grad_norm must be > 0 or null; got {self.max_grad_norm!r}")
        if self.checkpoint_every_epochs < 1:
            raise ValueError(
                f"train.checkpoint_every_epochs must be >= 1; got {self.checkpoint_every_epochs!r}"
            )


@dataclass
class DetectionConfig:
    """Out-of-sample label-issue detection on the training set, written to label_issues.csv.

    Attributes:
        method: ``kfold`` (cross-validated predicted probabilities: ``folds`` fresh models,
            each trained on the other folds with the run's loss, predicts its held-out fold),
            ``dynamics`` (each example's softmax averaged over the epochs, recorded in the
            training forward pass *before* the update on its batch; cheap, not strictly
            out-of-sample), ``method`` (the training method's own detection, for methods
            that flag examples themselves: ``graphcleaner``, ``graphcleaner_drop``), or
            ``none``.
        folds: number of folds for ``kfold``.
        epochs: training epochs of each fold model (``None``: ``train.epochs``).
        filter_by: confident-learning filter (cleanlab's ``filter_by``).
        score: label-quality score (cleanlab's ``method``), or an outlier score of the
            out-of-sample probabilities (``outlier_entropy`` / ``outlier_least_confidence``:
            cleanlab's ``OutOfDistribution`` with confident-threshold adjustment) to rank
            the examples by; the issue flags stay confident learning's.
    """

    method: Literal["kfold", "dynamics", "method", "none"] = "kfold"
    folds: int = 3
    epochs: int | None = None
    filter_by: Literal[
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
    ] = "prune_by_noise_rate"
    score: Literal[
        "self_confidence",
        "normalized_margin",
        "confidence_weighted_entropy",
        "outlier_entropy",
        "outlier_least_confidence",
    ] = "self_confidence"

    def __post_init__(self) -> None:
        if self.folds < 2:  # the upper bound (the training-set size) is checked by the run
            raise ValueError(f"detection.folds must be >= 2; got {self.folds!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"detection.epochs must be >= 1 or null; got {self.epochs!r}")


@dataclass
class TaskConfig:
    """``task: {name: classification, <the adapter Config's fields>}``."""

    name: str
    options: Any


@dataclass
class RunConfig:
    """A whole run.

    Attributes:
        name: run name (used in ``output_dir``'s default).
        task: the task name and its adapter's options.
        method: the training method and its options, ``method: {name: dividemix,
            warmup_epochs: 10}`` (``labelnoise.methods.METHODS``; default ``standard``).
        seed: seeds the model init, the data order and the noise (unless the task sets its own).
        output_dir: run directory; ``{name}`` is replaced by the run name.
        data, loss, selector, optim, train, detection: see their classes.
        variants: named override mappings; a recipe with variants trains one run per variant
            into ``output_dir/<variant>`` and writes a comparison table.
    """

    task: TaskConfig
    name: str = "run"
    method: ComponentConfig = field(default_factory=lambda: ComponentConfig("standard"))
    seed: int = 0
    output_dir: str = "runs/{name}"
    data: DataConfig = field(default_factory=DataConfig)
    loss: ComponentConfig = field(default_factory=lambda: ComponentConfig("ce"))
    selector: ComponentConfig = field(default_factory=lambda: ComponentConfig("none"))
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir.replace("{name}", self.name))


# ----------------------------------------------------------------------------- loading


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a YAML recipe (``yaml.safe_load``); an empty file is an empty mapping."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"recipe must be an existing YAML file; got {str(p)!r}")
    try:
        with p.open(encoding="utf-8") as f:
            data = yaml.safe_load(f)  # safe: no Python objects from tags such as !!python
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(f"recipe {p} must be valid YAML (safe subset){at}; got: {problem}") from e
    except UnicodeDecodeError as e:
        raise ValueError(f"recipe {p} must be UTF-8 text; got undecodable bytes") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"recipe {p} must be a YAML mapping; got {type(data).__name__}")
    return data


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["--loss.q=0.5", "train.epochs=3"]`` -> nested ``{"loss": {"q": ...}, ...}``."""
    out: dict[str, Any] = {}
    for item in items:
        text = item[2:] if item.startswith("--") else item
        if "=" not in text:
            raise ValueError(f"override must look like --section.key=value; got {item!r}")
        key, raw = text.split("=", 1)
        parts = key.split(".")
        if not all(parts):
            raise ValueError(f"override key must be dotted names; got {key!r}")
        try:
            parsed = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            parsed = raw
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {key!r} conflicts with another override")
        node[parts[-1]] = CliValue(raw, parsed)
    return out


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge, ``over`` wins."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve(
    recipe: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    variant: str | None = None,
) -> RunConfig:
    """The typed :class:`RunConfig` of a recipe mapping, one variant and CLI overrides.

    Raises:
        ValueError: an unknown key, a value of the wrong type, or an unknown variant.
    """
    data = dict(recipe)
    variants = data.get("variants") or {}
    if not isinstance(variants, Mapping):
        raise ValueError(f"variants must be a mapping of name -> overrides; got {variants!r}")
    if variant is not None:
        if variant not in variants:
            raise ValueError(f"variant must be one of {sorted(variants)}; got {variant!r}")
        v = variants[variant] or {}
        if not isinstance(v, Mapping):
            raise ValueError(f"variants.{variant} must be a mapping; got {v!r}")
        if "variants" in v:
            raise ValueError(f"variants.{variant} must not contain variants")
        data = deep_merge(data, v)
        data["variants"] = {}
    data = deep_merge(data, overrides or {})
    return _build_run(data)


def _build_run(data: dict[str, Any]) -> RunConfig:
    from labelnoise.tasks.registry import TASKS, get_task

    known = {f.name for f in dataclasses.fields(RunConfig)}
    for k in data:
        if k not in known:
            raise ValueError(f"unknown recipe key {k!r}; expected one of {sorted(known)}")
    task = data.get("task")
    if not isinstance(task, Mapping) or "name" not in task:
        raise ValueError(
            f"task must be a mapping with a name, e.g. task: {{name: classification}}; got {task!r}"
        )
    task_name = coerce(task["name"], str, "task.name")
    if task_name not in TASKS:
        raise ValueError(f"task.name must be one of {sorted(TASKS)}; got {task_name!r}")
    adapter_cls = get_task(task_name)
    task_options = {k: v for k, v in task.items() if k != "name"}
    options = build(adapter_cls.Config, task_options, "task")
    rest = {k: v for k, v in data.items() if k not in ("task", "loss", "selector", "method")}
    cfg = build(RunConfig, rest, "", extra={"task": TaskConfig(task_name, options)})
    cfg.loss = _build_component(data.get("loss"), "loss", cfg.loss.name)
    cfg.selector = _build_component(data.get("selector"), "selector", cfg.selector.name)
    cfg.method = _build_method(data.get("method"))
    if cfg.detection.method == "dynamics" and not cfg.train.record_dynamics:
        raise ValueError("detection.method 'dynamics' needs train.record_dynamics: true; got false")
    from labelnoise.methods import check_method

    check_method(cfg)
    return cfg


def _build_method(value: Any) -> ComponentConfig:
    """``method: {name: ..., <options>}``: options checked by the method's Options dataclass."""
    from labelnoise.methods import method_options

    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValueError(
            f"method must be a mapping like {{name: coteaching}}; got {plain(value)!r}"
        )
    name = coerce(value.get("name", "standard"), str, "method.name")
    raw = {k: v for k, v in value.items() if k != "name"}
    opts = method_options(name, raw)
    return ComponentConfig(name, {k: _plain_field(getattr(opts, k)) for k in raw})


def _plain_field(v: Any) -> Any:
    """A checked option value in YAML-safe form (tuples as lists)."""
    if isinstance(v, tuple):
        return [_plain_field(x) for x in v]
    return v


def _build_component(value: Any, section: str, default: str) -> ComponentConfig:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{section} must be a mapping like {{name: ...}}; got {value!r}")
    name = coerce(value.get("name", default), str, f"{section}.name")
    options = {k: v for k, v in value.items() if k != "name"}
    builder = _component_builder(section, name)
    params = inspect.signature(builder).parameters
    hints = _hints(builder)
    for k, v in options.items():
        if k in ("num_classes", "num_examples", "gather"):
            raise ValueError(
                f"{section}.{k} is set by the loop, not by the recipe; got {plain(v)!r}"
            )
    if section == "loss":
        from labelnoise.common.losses.registry import check_loss_options as check
    else:
        from labelnoise.common.selection.registry import check_selector_options as check
    check(name, options)  # the builder's own check, before any run trains
    out: dict[str, Any] = {}
    for k, v in options.items():
        key = f"{section}.{k}"
        if k in hints:
            out[k] = coerce(v, hints[k], key)
        elif k in params and params[k].default not in (inspect.Parameter.empty, None):
            out[k] = coerce(v, type(params[k].default), key)
        else:  # options the builder adds (e.g. elr's beta); the builder checks them
            out[k] = plain(v)
    return ComponentConfig(name, out)


def _component_builder(section: str, name: str) -> Callable[..., Any]:
    """The registered class/function behind ``loss`` / ``selector`` name ``name``."""
    registry: Mapping[str, Callable[..., Any]]
    if section == "loss":
        from labelnoise.common.losses import LOSSES as registry
    else:
        from labelnoise.common.selection import SELECTORS as registry
    if name not in registry:
        raise ValueError(f"{section}.name must be one of {sorted(registry)}; got {name!r}")
    return registry[name]


def _hints(obj: Any) -> dict[str, Any]:
    """Type hints of the keyword-only parameters of ``obj`` (a function or a class)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable forward references: fall back to defaults' types
        return {}
    params = inspect.signature(target).parameters
    return {
        k: v for k, v in hints.items() if k in params and params[k].kind is params[k].KEYWORD_ONLY
    }


# ----------------------------------------------------------------------------- output


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The resolved config as a plain mapping, in the recipe's own shape (round-trips)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if f.name == "task":
            out["task"] = {"name": v.name, **dataclasses.asdict(v.options)}
        elif isinstance(v, ComponentConfig):
            out[f.name] = {"name": v.name, **v.options}
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            out[f.name] = dataclasses.asdict(v)
        else:
            out[f.name] = copy.deepcopy(v)
    return out


def dump_yaml(cfg: RunConfig) -> str:
    """``to_dict(cfg)`` as YAML text."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
