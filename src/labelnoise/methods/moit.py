"""``moit``: Multi-Objective Interpolation Training, and MOIT+ fine-tuning.

Ortego, Arazo, Albert, O'Connor & McGuinness, "Multi-Objective Interpolation Training for
Robustness to Label Noise", CVPR 2021 (authors' code: github.com/DiegoOrtego/LabelNoiseMOIT).
The network gets a linear projection head on its penultimate features (the input of its last
``nn.Linear``; ``low_dim`` outputs, L2-normalised). Every step mixes the batch twice (two
views: ``lambda_v = max(l, 1 - l)``, ``l ~ Beta(alpha, alpha)``, a permutation each) and
minimises two objectives on both views:

* **interpolated supervised contrastive learning** (:func:`interpolated_supcon`): for the
  ``2B`` embeddings ``z`` and ``log p_ij = z_i.z_j / T - log sum_{k != i} exp(z_i.z_k / T)``,
  ``L_i = -lambda_i mean_{j in P(y_i)} log p_ij - (1 - lambda_i) mean_{j in P(y'_i)} log p_ij``
  with ``y_i`` the label of the dominant example, ``y'_i`` the mixed-in one's and ``P(c)``
  the other examples of the two views whose dominant label is ``c``;
* **classification**: mixup cross-entropy ``lambda CE(y) + (1 - lambda) CE(y')``; from
  ``correction_epoch`` on, *semi-supervised*: at the start of every epoch the kNN detection
  of :func:`~labelnoise.common.selection.knn_agreement.knn_agreement` (``k``, ``balance``)
  runs on the eval-mode embeddings of the training split; the detected clean examples keep
  their mixup CE, the detected noisy ones lose their labels and learn the network's own
  (detached, un-augmented) softmax prediction as a soft target, weighted by the mixing
  coefficients (the authors' "predictive correction").

**MOIT+** (``finetune_epochs`` > 0): the last ``finetune_epochs`` of ``train.epochs`` run the
detection once more, re-initialise the classifier (the last ``nn.Linear``), clear the
optimizer state and fine-tune the whole network on the detected clean examples only, with
mixup CE and, after ``boot_after`` epochs, hard bootstrapping (``(1 - beta)`` the label +
``beta`` the un-augmented argmax prediction, ``beta`` 0.2).

Simplified: no cross-batch memory (XBM) of embeddings; both views come from the task's own
augmentation (the authors' "complex" augmentation is not built); the inputs are mixed before
the task's augmentation, and the "un-augmented" prediction is the unmixed batch through the
task's training forward (un-augmented when ``task.augment`` is off); in the second mixup term
an example's mixed-in partner is a positive once (the authors' masks count it twice); MOIT+ runs in the same run with the run's LR schedule (the authors
restart SGD at LR 1e-3). ``moit.npz`` (after training): the last detection's clean mask and
discrepancies. One process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Subset

from labelnoise.common.selection.knn_agreement import knn_agreement
from labelnoise.methods.base import Method, StepOutput

__all__ = ["Moit", "MoitOptions", "interpolated_supcon"]


@dataclass
class MoitOptions:
    """The recipe's ``method:`` options (defaults: the authors' CIFAR-10 settings).

    Attributes:
        low_dim: embedding size of the projection head, >= 1 (128).
        temperature: contrastive temperature ``T`` > 0 (0.1).
        alpha: mixup ``Beta(alpha, alpha)``, >= 0 (1; 0: no mixing).
        k: neighbours of the kNN detection, >= 1 (250).
        balance: per-class count of clean examples: ``median`` (default), ``max``, ``min``
            or ``none`` (plain agreement).
        correction_epoch: first epoch (0-based) of semi-supervised classification, >= 0 (130
            of the authors' 250).
        finetune_epochs: MOIT+ epochs at the end of the run, >= 0 (0: MOIT only).
        boot_after: MOIT+ epochs before hard bootstrapping, >= 0 (30).
        boot_beta: bootstrapping weight in [0, 1] (0.2).
    """

    low_dim: int = 128
    temperature: float = 0.1
    alpha: float = 1.0
    k: int = 250
    balance: Literal["median", "max", "min", "none"] = "median"
    correction_epoch: int = 130
    finetune_epochs: int = 0
    boot_after: int = 30
    boot_beta: float = 0.2

    def __post_init__(self) -> None:
        for key, lo in (("low_dim", 1), ("k", 1), ("correction_epoch", 0)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"method.{key} must be an integer >= {lo}; got {v!r}")
        for key in ("finetune_epochs", "boot_after"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"method.{key} must be an integer >= 0; got {v!r}")
        if not np.isfinite(self.temperature) or self.temperature <= 0:
            raise ValueError(f"method.temperature must be > 0; got {self.temperature!r}")
        if not np.isfinite(self.alpha) or self.alpha < 0:
            raise ValueError(f"method.alpha must be >= 0; got {self.alpha!r}")
        if not 0.0 <= self.boot_beta <= 1.0:
            raise ValueError(f"method.boot_beta must be in [0, 1]; got {self.boot_beta!r}")


def interpolated_supcon(
    z: Tensor, y_major: Tensor, y_minor: Tensor, lam: Tensor, temperature: float
) -> Tensor:
    """Mean interpolated SupCon loss of L2-normalised embeddings ``z (M, D)`` whose inputs are
    mixes with dominant labels ``y_major (M,)``, mixed-in labels ``y_minor (M,)`` and
    coefficients ``lam (M,)`` (module docstring); an empty positive set contributes 0."""
    m = len(z)
    logits = z @ z.T / temperature
    eye = torch.eye(m, dtype=torch.bool, device=z.device)
    denom = torch.logsumexp(logits.masked_fill(eye, -float("inf")), dim=1, keepdim=True)
    log_prob = logits - denom
    total = z.new_zeros(m)
    for labels, w in ((y_major, lam), (y_minor, 1 - lam)):
        pos = (labels.view(-1, 1) == y_major.view(1, -1)) & ~eye
        mean = (log_prob * pos).sum(1) / pos.sum(1).clamp_min(1)
        total = total - w * mean
    return total.mean()


class _WithHead(nn.Module):
    """The task's network plus a projection head on its penultimate features; ``forward``
    returns the logits and keeps the normalised embedding in ``.embedding``."""

    def __init__(self, base: nn.Module, low_dim: int) -> None:
        super().__init__()
        self.base = base
        last = [m for m in base.modules() if isinstance(m, nn.Linear)][-1]
        self._last = [last]  # not a submodule of its own (no duplicate weights in checkpoints)
        self.proj = nn.Linear(last.in_features, low_dim)
        self._feat: list[Tensor] = []
        last.register_forward_hook(lambda mod, i, o: self._feat.append(i[0]))
        self.embedding: Tensor | None = None

    @property
    def classifier(self) -> nn.Linear:
        """The task network's last ``nn.Linear`` (the classifier MOIT+ re-initialises)."""
        return self._last[0]

    def forward(self, x: Tensor) -> Tensor:
        self._feat.clear()
        logits = self.base(x)
        self.embedding = F.normalize(self.proj(self._feat[-1].flatten(1)), dim=1)
        return logits


class Moit(Method):
    """Interpolated contrastive + (semi-)supervised classification, kNN detection, MOIT+."""

    name = "moit"
    Options = MoitOptions
    tasks = frozenset({"classification"})
    single_process = True

    def __init__(self, options: MoitOptions, run: Any) -> None:
        super().__init__(options, run)
        self.clean: Tensor | None = None  # (N,) the last detection
        self.disc: Tensor | None = None
        self.detected_epoch = -1
        self.finetune_started = False
        self.gen = torch.Generator().manual_seed(run.cfg.seed)

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        from labelnoise.methods.registry import method_options

        if cfg.detection.method == "dynamics":
            raise ValueError(
                "detection.method must be 'kfold' or 'none' for method 'moit' (its mixup "
                "steps record no training dynamics); got 'dynamics'"
            )
        o = method_options(cfg.method.name, cfg.method.options)
        if o.finetune_epochs >= cfg.train.epochs:
            raise ValueError(
                f"method.finetune_epochs must be < train.epochs ({cfg.train.epochs}); got "
                f"{o.finetune_epochs}"
            )

    def build_model(self, splits: Any) -> nn.Module:
        return _WithHead(self.run.adapter.build_model(splits), self.options.low_dim)

    def _head(self) -> _WithHead:
        model = self.run.accelerator.unwrap_model(self.nets[0].model)
        assert isinstance(model, _WithHead)
        return model

    def _finetune_start(self) -> int:
        return self.run.cfg.train.epochs - self.options.finetune_epochs

    # ------------------------------------------------------------------ the epoch's batches

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        o = self.options
        finetune = o.finetune_epochs > 0 and epoch >= self._finetune_start()
        if (epoch >= o.correction_epoch or finetune) and self.detected_epoch < epoch:
            if not (finetune and self.finetune_started):  # MOIT+ keeps its one clean set
                self._detect()
            self.detected_epoch = epoch
        if not finetune:
            return None
        if not self.finetune_started:
            self._restart_classifier()
            self.finetune_started = True
        return self._clean_batches(epoch, skip)

    @torch.no_grad()
    def _detect(self) -> None:
        from labelnoise.engine.data import eval_loader
        from labelnoise.tasks.base import move_to

        run, head = self.run, self._head()
        n = len(run.train_split)
        emb, labels = torch.zeros(n, self.options.low_dim), torch.zeros(n, dtype=torch.long)
        loader = eval_loader(run.train_split, run.adapter, batch_size=run.cfg.data.eval_batch_size)
        head.eval()
        for batch in loader:
            u = run.adapter.units(head, move_to(batch, run.accelerator.device))
            assert head.embedding is not None
            ids = u.example_id.cpu()
            emb[ids], labels[ids] = head.embedding.float().cpu(), u.target.long().cpu()
        head.train()
        c = run.splits.num_classes
        self.clean, self.disc = knn_agreement(
            emb, labels, c, k=self.options.k, balance=self.options.balance
        )

    def _restart_classifier(self) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.run.cfg.seed * 1_000 + 7)
            self._head().classifier.reset_parameters()
        opt = self.nets[0].optimizer
        getattr(opt, "optimizer", opt).state.clear()

    def _clean_batches(self, epoch: int, skip: int) -> Iterator[Any]:
        from labelnoise.engine.data import make_loader
        from labelnoise.tasks.base import move_to

        run = self.run
        assert self.clean is not None
        ids = torch.nonzero(self.clean).view(-1).tolist() or list(range(len(run.train_split)))
        loader = make_loader(
            Subset(run.train_split, ids),
            run.adapter,
            batch_size=run.cfg.data.batch_size,
            seed=run.cfg.seed,
            shuffle=True,
            num_workers=run.cfg.data.num_workers,
        )
        loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        for b, batch in enumerate(loader):
            if b >= skip:
                yield move_to(batch, run.accelerator.device)

    # ------------------------------------------------------------------ one step

    def _mix(self, batch: dict[str, Any]) -> tuple[dict[str, Any], Tensor, float]:
        o = self.options
        draw = int(torch.randint(0, 2**62, (1,), generator=self.gen))
        lam = float(np.random.default_rng(draw).beta(o.alpha, o.alpha)) if o.alpha > 0 else 1.0
        lam = max(lam, 1 - lam)
        x = batch["x"]
        perm = torch.randperm(len(x), generator=self.gen).to(x.device)
        return {**batch, "x": lam * x + (1 - lam) * x[perm]}, perm, lam

    def step(self, batch: Any) -> StepOutput:
        run, o = self.run, self.options
        model, head = self.nets[0].model, self._head()
        y, epoch = batch["target"].long(), run.state.epoch
        finetune = o.finetune_epochs > 0 and epoch >= self._finetune_start()
        views = [self._mix(batch) for _ in range(1 if finetune else 2)]
        logits, embs, perms, lams = [], [], [], []
        for mixed, p_v, lam_v in views:
            logits.append(run.adapter.units(model, mixed).pred)
            assert head.embedding is not None
            embs.append(head.embedding)
            perms.append(p_v)
            lams.append(torch.full((len(y),), lam_v, device=y.device))
        pred, perm, lam = torch.cat(logits), torch.cat(perms), torch.cat(lams)
        y_a, y_b = y.repeat(len(views)), y[perm]
        ce_a = F.cross_entropy(pred, y_a, reduction="none")
        ce_b = F.cross_entropy(pred, y_b, reduction="none")
        semi = epoch >= o.correction_epoch and self.clean is not None and not finetune
        boot = finetune and epoch - self._finetune_start() >= o.boot_after
        if semi or boot:
            with torch.no_grad():  # the unmixed prediction (train mode, as the authors)
                plain = run.adapter.units(model, batch).pred.detach()
        if semi:
            assert self.clean is not None
            agree = self.clean.to(y.device)[batch["example_id"].long()].float()
            agree_a, agree_b = agree.repeat(len(views)), agree[perm]
            soft = plain.softmax(1).repeat(len(views), 1)
            logp = F.log_softmax(pred, 1)
            cls = (agree_a * (lam * ce_a + (1 - lam) * ce_b)).mean()
            cls = cls + (lam * (1 - agree_a) * -(soft * logp).sum(1)).mean()
            cls = cls + ((1 - lam) * (1 - agree_b) * -(soft[perm] * logp).sum(1)).mean()
        elif boot:
            hard = plain.argmax(1)
            b = o.boot_beta
            ce_ha = F.cross_entropy(pred, hard, reduction="none")
            ce_hb = F.cross_entropy(pred, hard[perm], reduction="none")
            cls = (
                lam * ((1 - b) * ce_a + b * ce_ha) + (1 - lam) * ((1 - b) * ce_b + b * ce_hb)
            ).mean()
        else:
            cls = (lam * ce_a + (1 - lam) * ce_b).mean()
        loss = cls
        if not finetune:
            loss = loss + interpolated_supcon(torch.cat(embs), y_a, y_b, lam, o.temperature)
        self.check_finite(loss.view(1))
        return StepOutput(loss)

    # ------------------------------------------------------------------ outputs and state

    def after_training(self) -> None:
        if (
            self.clean is not None
            and self.disc is not None
            and self.run.accelerator.is_main_process
        ):
            np.savez(
                self.run.run_dir / "moit.npz",
                clean=self.clean.numpy(),
                discrepancy=self.disc.numpy(),
            )

    def state_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "disc": self.disc,
            "detected_epoch": self.detected_epoch,
            "finetune_started": self.finetune_started,
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clean, self.disc = state["clean"], state["disc"]
        self.detected_epoch = int(state["detected_epoch"])
        self.finetune_started = bool(state["finetune_started"])
        self.gen.set_state(state["gen"])
