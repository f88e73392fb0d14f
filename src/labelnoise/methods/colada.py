"""``colada``: collaborative label denoising for NER transfer to an unlabelled target set.

CoLaDa (Ma, Wu, Jiang, Karlsson, Zhao & Lin, "CoLaDa: A Collaborative Label Denoising
Framework for Cross-lingual Named Entity Recognition", ACL 2023; authors' code
``microsoft/vert-papers/papers/CoLaDa``). The run's training split is the labelled source;
``target`` names the set whose *train* split is the unlabelled target data (its labels are
read only to report pseudo-label quality in ``colada.json``, never to train or select).

**Instance collaboration** (:func:`knn_consistency`): a token's pseudo-label is trusted as
much as its ``k`` nearest neighbours (cosine, in the labelling model's token representation
space) agree with it. With ``a_i`` the neighbours whose label is ``y_i`` or its B/I partner
(same type), ``m_c`` the largest ``a`` among tokens labelled ``c`` and ``s`` = ``sm_k``::

    t_i = (a_i + s) / (m_{y_i} + s);   t_i <- sigmoid(ealpha (t_i - emu mean_{y_j = y_i} t_j))
    w_i = t_i / max_{y_j = y_i} t_j                                   # per-class max 1

**Model collaboration**: two networks. After ``source_epochs`` on the source labels
(network 0 = the source model), each of ``iterations`` has two steps of ``step_epochs``:

1. network 1 := network 0's weights; network 0 labels the source tokens (``p0``), its kNN
   weights ``w`` (on its labels ``argmax p0``) denoise them, and network 1 trains on the
   soft labels ``lambda onehot(y) + (1 - lambda) w p0`` (the authors' step 1, with the
   source data in place of their translated source);
2. network 1 labels the target tokens, its kNN weights ``w`` (on its own representation)
   weight them, and network 0 trains on ``onehot(argmax p1)`` (``temperature`` 0, the
   authors' setting) or ``p1`` sharpened by ``1 / temperature``, loss ``w * CE``.

Network 0 is evaluated, selected and saved. ``mode: self_training`` is the baseline: after
the source epochs, ``iterations`` rounds of ``step_epochs`` in which network 0 trains on its
own pseudo-labels of the target, taken at the round's start, unweighted.

Simplified: the networks are not re-initialised before each step (the authors restart
the student from the pretrained encoder), the encoder is frozen (``task.frozen: true``; the
token representation is the head's hidden layer, or the features for a head without one),
neighbours are searched among at most ``knn_max_reference`` random tokens (exact search
otherwise; the authors use faiss on a GPU), and the query token itself is excluded (the
authors also drop every neighbour with an identical representation). Language-agnostic:
any ``task.model`` backbone works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.methods.base import StepOutput
from labelnoise.methods.knn_consistency import knn_consistency, partner_labels
from labelnoise.methods.standard import Standard

if TYPE_CHECKING:
    from labelnoise.config import RunConfig

__all__ = ["Colada", "ColadaOptions", "knn_consistency", "partner_labels"]


@dataclass
class ColadaOptions:
    """The recipe's ``method:`` options (defaults: the authors' scripts where they give one).

    Attributes:
        mode: ``colada`` (default) or ``self_training`` (the baseline, one network).
        target: built-in set whose train split is the unlabelled target (``wnut17``).
        source_epochs: epochs on the source labels first (>= 1, default 10).
        iterations: CoLaDa iterations / self-training rounds (>= 1, default 2).
        step_epochs: epochs of each step (>= 1, default 5); ``train.epochs`` must be
            ``source_epochs + iterations * step_epochs * (2 for colada, 1 for self_training)``.
        k: neighbours (>= 1, default 500); at most the reference size minus one are used.
        sm_k: smoothing count ``s`` of the consistency ratio (>= 0, default 1).
        emu: the class-mean shift (default 1). ealpha: the sigmoid slope (> 0, default 6).
        source_lambda: weight of the source's own labels in step 1 (in [0, 1], default 0.5).
        temperature: 0 (hard pseudo-labels, default) or > 0 (soft, sharpened by 1 / T).
        knn_max_reference: tokens the neighbours are searched among (>= 2, default 50000).
    """

    mode: Literal["colada", "self_training"] = "colada"
    target: Literal["wnut17", "conll03"] = "wnut17"
    source_epochs: int = 10
    iterations: int = 2
    step_epochs: int = 5
    k: int = 500
    sm_k: float = 1.0
    emu: float = 1.0
    ealpha: float = 6.0
    source_lambda: float = 0.5
    temperature: float = 0.0
    knn_max_reference: int = 50000

    def __post_init__(self) -> None:
        for key, low in (("source_epochs", 1), ("iterations", 1), ("step_epochs", 1), ("k", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"method.{key} must be an integer >= {low}; got {v!r}")
        if isinstance(self.knn_max_reference, bool) or self.knn_max_reference < 2:
            raise ValueError(
                f"method.knn_max_reference must be >= 2; got {self.knn_max_reference!r}"
            )
        if not self.sm_k >= 0:
            raise ValueError(f"method.sm_k must be >= 0; got {self.sm_k!r}")
        if not self.ealpha > 0:
            raise ValueError(f"method.ealpha must be > 0; got {self.ealpha!r}")
        if not 0.0 <= self.source_lambda <= 1.0:
            raise ValueError(f"method.source_lambda must be in [0, 1]; got {self.source_lambda!r}")
        if not self.temperature >= 0:
            raise ValueError(f"method.temperature must be >= 0; got {self.temperature!r}")

    @property
    def epochs(self) -> int:
        per = 2 if self.mode == "colada" else 1
        return self.source_epochs + self.iterations * per * self.step_epochs


def _represent(model: nn.Module, x: Tensor) -> Tensor:
    """A network's token representation: ``embed`` when it has one, the hidden layer of a
    :class:`~labelnoise.tasks.ner.frozen.WordMLPHead` (``net[:-2]``), else the input."""
    embed = getattr(model, "embed", None)
    if callable(embed):
        return embed(x)
    net = getattr(model, "net", None)
    if isinstance(net, nn.Sequential) and len(net) > 2:
        return net[:-2](x)
    return x


class Colada(Standard):
    """CoLaDa's two collaborating networks, or the self-training baseline (module doc)."""

    name = "colada"
    Options = ColadaOptions
    tasks = frozenset({"ner"})
    single_process = True

    def __init__(self, options: ColadaOptions, run: Any) -> None:
        super().__init__(options, run)
        self.num_networks = 2 if options.mode == "colada" else 1
        self.phase_key = -1  # the phase whose targets are held
        self.soft: Tensor | None = None  # (W, C) targets of the phase's words
        self.weight: Tensor | None = None  # (W,)
        self.report: list[dict[str, Any]] = []
        self._target: Any = None

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        from labelnoise._typed import build

        o = build(ColadaOptions, dict(cfg.method.options), "method")
        if not getattr(cfg.task.options, "frozen", False):
            raise ValueError(
                "method 'colada' trains heads on frozen features: set task.frozen: true"
            )
        if cfg.train.epochs != o.epochs:
            raise ValueError(
                f"train.epochs must be method.source_epochs + iterations x step_epochs x "
                f"{2 if o.mode == 'colada' else 1} = {o.epochs} for method 'colada'; got "
                f"{cfg.train.epochs}"
            )

    # ---------------------------------------------------------------- phases and data

    def phase(self, epoch: int) -> tuple[int, str]:
        """``(phase index, kind)``: kind ``source``, ``step1`` or ``step2`` of ``epoch``."""
        o = self.options
        if epoch < o.source_epochs:
            return 0, "source"
        j = (epoch - o.source_epochs) // o.step_epochs
        if o.mode == "self_training":
            return 1 + j, "step2"
        return 1 + j, ("step1" if j % 2 == 0 else "step2")

    @property
    def adapter(self) -> Any:
        """The run's NER adapter (``class_names``, ``word_features``)."""
        return self.run.adapter

    @property
    def target(self) -> Any:
        if self._target is None:
            from labelnoise.engine.setup import data_root
            from labelnoise.tasks.ner.adapter import map_tags, read_builtin

            root = data_root(self.run.cfg)
            if root is None:
                raise ValueError(
                    "method 'colada' reads its target from the data root; set data.data_dir"
                )
            toks, tags = read_builtin(root, self.options.target, "train")
            adapter: Any = self.run.adapter
            tags = map_tags(tags, dict(adapter.config.tag_map))
            known = set(adapter.class_names)
            tags = [[t if t in known else "O" for t in s] for s in tags]
            self._target = adapter.word_features(toks, tags)
        return self._target

    @torch.no_grad()
    def _predict(self, model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(probs (W, C), representation (W, H))`` of a network in eval mode."""
        was = model.training
        model.eval()
        dev = next(model.parameters()).device
        probs, reps = [], []
        for s in range(0, len(x), 8192):
            xb = x[s : s + 8192].to(dev)
            probs.append(model(xb).float().softmax(-1).cpu())
            reps.append(_represent(model, xb).float().cpu())
        model.train(was)
        return torch.cat(probs), torch.cat(reps)

    def _weights(self, reps: Tensor, labels: Tensor, key: int) -> Tensor:
        o = self.options
        g = torch.Generator().manual_seed(int(self.run.cfg.seed) * 1000 + key)
        n = len(labels)
        ref = (
            torch.randperm(n, generator=g)[: o.knn_max_reference]
            if n > o.knn_max_reference
            else None
        )
        partner = partner_labels(self.adapter.class_names)
        return knn_consistency(
            reps, labels, partner, k=o.k, sm_k=o.sm_k, emu=o.emu, ealpha=o.ealpha, reference=ref
        )

    def _start_phase(self, key: int, kind: str) -> None:
        """Compute the phase's soft targets and weights (module docstring)."""
        o, unwrap = self.options, self.run.accelerator.unwrap_model
        C = len(self.adapter.class_names)
        if kind == "step1":
            unwrap(self.nets[1].model).load_state_dict(unwrap(self.nets[0].model).state_dict())
            src: Any = self.run.splits.train
            p0, h0 = self._predict(self.nets[0].model, src.features)
            lab = p0.argmax(1)
            w = self._weights(h0, lab, key)
            gold = F.one_hot(src.target, C).float()
            self.soft = o.source_lambda * gold + (1 - o.source_lambda) * w[:, None] * p0
            self.weight = torch.ones(len(lab))
            truth = src.target
        else:
            teacher = self.nets[1 if o.mode == "colada" else 0].model
            p, h = self._predict(teacher, self.target.features)
            lab = p.argmax(1)
            if o.temperature > 0:
                q = p ** (1.0 / o.temperature)
                self.soft = q / q.sum(1, keepdim=True)
            else:
                self.soft = F.one_hot(lab, C).float()
            w = self._weights(h, lab, key) if o.mode == "colada" else torch.ones(len(lab))
            self.weight = w
            truth = self.target.target
        right = lab == truth
        self.report.append(
            {
                "phase": key,
                "kind": kind,
                "pseudo_label_accuracy": float(right.float().mean()),
                "mean_weight_correct": float(w[right].mean()) if right.any() else None,
                "mean_weight_wrong": float(w[~right].mean()) if (~right).any() else None,
            }
        )
        self.phase_key = key

    def epoch_batches(self, epoch: int, skip: int) -> Iterator[Any] | None:
        key, kind = self.phase(epoch)
        if kind == "source":
            return None
        if self.phase_key != key:
            self._start_phase(key, kind)
        assert self.soft is not None and self.weight is not None
        data: Any = self.run.splits.train if kind == "step1" else self.target
        net = 1 if kind == "step1" else 0
        g = torch.Generator().manual_seed(int(self.run.cfg.seed) * 100_003 + epoch)
        order = torch.randperm(len(self.soft), generator=g)
        bs, dev = self.run.cfg.data.batch_size, self.run.accelerator.device

        def gen() -> Iterator[dict[str, Any]]:
            for s in range(skip * bs, len(order), bs):
                i = order[s : s + bs]
                yield {
                    "colada": net,
                    "features": data.features[i].to(dev),
                    "soft": self.soft[i].to(dev),  # type: ignore[index]
                    "weight": self.weight[i].to(dev),  # type: ignore[index]
                }

        return gen()

    # ---------------------------------------------------------------- the step

    def step(self, batch: Any) -> StepOutput:
        if "colada" not in batch:  # the source epochs: the standard step on network 0
            return super().step(batch)
        model = self.nets[batch["colada"]].model
        logp = F.log_softmax(model(batch["features"]).float(), dim=-1)
        ce = -(batch["soft"] * logp).sum(-1)  # (U,)
        self.check_finite(ce.detach())
        return StepOutput((batch["weight"] * ce).mean())

    # ---------------------------------------------------------------- state and outputs

    def after_training(self) -> None:
        if self.run.accelerator.is_main_process:
            (self.run.run_dir / "colada.json").write_text(json.dumps(self.report, indent=1))

    def state_dict(self) -> dict[str, Any]:
        return {
            "phase_key": self.phase_key,
            "soft": self.soft,
            "weight": self.weight,
            "report": json.dumps(self.report),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase_key = int(state["phase_key"])
        self.soft, self.weight = state["soft"], state["weight"]
        self.report = json.loads(state["report"])
