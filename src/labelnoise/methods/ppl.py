"""``ppl``: PPR prototype pseudo-labelling for graph node classification (our method).

Noisy training labels are never fit directly. With ``z = PPR(X)`` the personalised-PageRank
features of the graph (APPNP's operator, Gasteiger et al., ICLR 2019; the ``ppr_mlp`` model
of the graph task trains on them)::

    teacher = prototype_probs(z, noisy training labels)                 # (N, K), no training
    epoch 0:  network 0 := the teacher written as a PPR-MLP; evaluated like any epoch
    round r = 0 .. rounds-1 (epochs 1 + r E ... (r + 1) E, E = (train.epochs - 1) / rounds):
        best = the engine's selected candidate so far (best clean-val accuracy)
        ids, y = confident_per_class(best, frac * N / K)                 # any node
                 + the labelled nodes whose noisy label is best's top class (keep_agreeing)
        network 0 := fresh PPR-MLP (seed + 7919 r), fresh optimizer state
        E full-batch epochs of the configured loss on (ids, y)

Selection is the engine's (``train.select_by: clean_val``, ERASE's protocol): over the whole
run, the teacher (epoch 0) and every epoch of every round's student are candidates, each
round learns from the best one so far, and the run returns the best one. The prototype
teacher (:mod:`labelnoise.tasks.graph.robust`, the semantic labels of ERASE, Chen et al.,
CIKM 2024) becomes a candidate network exactly: a PPR-MLP with ``lin1 = [P; -P]``,
``lin2 = [I, -I] / T`` computes ``z P^T / T``, whose argmax is the teacher's
(``normalize(z) P^T / T``, rows scaled by ``1 / |z_i|``); its *probabilities* differ, so the
rounds pseudo-label from the exact teacher probabilities when the teacher is the best
candidate (needs ``task.hidden >= 2 K``). Self-training rounds: Li et al., AAAI 2018.

Each epoch is one full-batch step on the round's pseudo-labelled nodes (``data.batch_size``
is not used for them); the LR schedule runs over the whole run (the recipes keep it
constant). ``train.epochs - 1`` must be a multiple of ``rounds`` (the ERASE recipe: 401 epochs,
2 rounds of 200); ``train.epochs: 1`` only evaluates the teacher. The run directory gets
``ppl.json``: per round the teacher epoch, the number of pseudo-labels and their accuracy
against the clean labels (reporting only), and the training nodes flagged as mislabelled
(noisy label != the prototype teacher's top class) with their teacher probability
(``quality``). The engine's own detection must be ``kfold`` or ``none`` (the steps are on
pseudo-labelled nodes: no per-example training dynamics). One process only.

Simplified from the pre-engine version: the student's initialisation is seeded per round as
before, but its dropout draws from the run's RNG stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.methods.base import Method, Net, StepOutput
from labelnoise.tasks.graph.adapter import GraphAdapter, node_labels
from labelnoise.tasks.graph.robust import confident_per_class, prototypes

__all__ = ["PPL", "PPLOptions"]


@dataclass
class PPLOptions:
    """Options of ``method: {name: ppl}``.

    Attributes:
        frac: pseudo-labels per class, as a fraction of ``N / K`` (default 0.3).
        rounds: teacher -> student rounds (default 2).
        round_epochs: full-batch epochs of each round's student (default null: ``(train.epochs
            - 1) / rounds``; when given, ``train.epochs`` must be ``1 + rounds x round_epochs``).
        keep_agreeing: also train on the labelled nodes whose noisy label is the teacher's
            top class, with that label (default true).
        clean_iters: prototype re-estimations from the agreeing labelled nodes (default 0).
        temperature: softmax temperature of the prototype cosine similarities (default 0.05).
    """

    frac: float = 0.3
    rounds: int = 2
    round_epochs: int | None = None
    keep_agreeing: bool = True
    clean_iters: int = 0
    temperature: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.frac <= 1:
            raise ValueError(f"method.frac must be in (0, 1]; got {self.frac!r}")
        if self.rounds < 1:
            raise ValueError(f"method.rounds must be >= 1; got {self.rounds!r}")
        if self.round_epochs is not None and self.round_epochs < 1:
            raise ValueError(f"method.round_epochs must be >= 1; got {self.round_epochs!r}")
        if self.clean_iters < 0:
            raise ValueError(f"method.clean_iters must be >= 0; got {self.clean_iters!r}")
        if not self.temperature > 0:
            raise ValueError(f"method.temperature must be > 0; got {self.temperature!r}")


class PPL(Method):
    """Prototype teacher, then rounds of PPR-MLP students on confident pseudo-labels."""

    name = "ppl"
    Options = PPLOptions
    tasks = frozenset({"graph"})
    single_process = True

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        from labelnoise.methods.registry import method_options

        o = method_options(cls.name, cfg.method.options)
        if cfg.task.options.model != "ppr_mlp":
            raise ValueError(
                f"task.model must be 'ppr_mlp' for method 'ppl' (its student is an MLP on the "
                f"PPR features); got {cfg.task.options.model!r}"
            )
        if o.round_epochs is None and (cfg.train.epochs - 1) % o.rounds:
            raise ValueError(
                f"train.epochs - 1 must be a multiple of method.rounds = {o.rounds} for method "
                f"'ppl' (epoch 0 evaluates the prototype teacher); got {cfg.train.epochs}"
            )
        want = 1 + o.rounds * (o.round_epochs or 0)
        if o.round_epochs is not None and cfg.train.epochs != want:
            raise ValueError(
                f"train.epochs must be 1 + method.rounds x method.round_epochs = {want} for "
                f"method 'ppl' (epoch 0 evaluates the prototype teacher); got {cfg.train.epochs}"
            )
        if cfg.train.eval_every != 1:
            raise ValueError(
                f"train.eval_every must be 1 for method 'ppl' (every epoch is a candidate of "
                f"the rounds' teachers); got {cfg.train.eval_every}"
            )
        if cfg.selector.name != "none":
            raise ValueError(
                f"selector.name must be 'none' for method 'ppl' (it chooses its training nodes "
                f"itself); got {cfg.selector.name!r}"
            )
        if cfg.loss.name == "elr":
            raise ValueError(
                "loss.name must be a loss without per-example memory for method 'ppl' (its "
                "training nodes change every round); got 'elr'"
            )
        if cfg.detection.method == "dynamics":
            raise ValueError(
                "detection.method must be 'kfold' or 'none' for method 'ppl' (its steps are on "
                "pseudo-labelled nodes: no training dynamics); got 'dynamics'"
            )

    # --- the teacher, before the loaders are built ------------------------------------------

    def train_dataset(self, train: Dataset) -> Dataset:
        o, adapter = self.options, self.run.adapter
        #: each round's full-batch epochs (0 when train.epochs is 1: the teacher only)
        self.round_epochs = o.round_epochs or (self.run.cfg.train.epochs - 1) // o.rounds
        assert isinstance(adapter, GraphAdapter)
        graph = self.graph = adapter.graph
        _, self.train_nodes, self.noisy, self.labels = node_labels(train, graph.num_nodes)
        self.num_classes = graph.num_classes
        z = adapter.ppr_features()
        self.protos = prototypes(
            z, self.train_nodes, self.labels, self.num_classes, clean_iters=o.clean_iters
        )
        self.teacher = F.softmax(F.normalize(z, dim=1) @ self.protos.T / o.temperature, dim=1)
        self.best_probs: Tensor = self.teacher
        self.best_from = 1  # the history epoch (1-based) of the candidate in best_probs
        self.round_nodes = torch.zeros(0, dtype=torch.long)
        self.round_targets = torch.zeros(0, dtype=torch.long)
        self.rounds: list[dict[str, Any]] = []
        return train  # unused by the steps (epoch_batches), sizes nothing that matters here

    def setup(self, nets: Sequence[Net], selector: Any) -> None:
        super().setup(nets, selector)
        mlp = self.run.accelerator.unwrap_model(self.nets[0].model).net
        k, hidden = self.num_classes, mlp.lin1.out_features
        if hidden < 2 * k:
            raise ValueError(
                f"task.hidden must be >= 2 x classes = {2 * k} for method 'ppl' (the prototype "
                f"teacher is written into the PPR-MLP); got {hidden}"
            )
        eye = torch.eye(k) / self.options.temperature
        with torch.no_grad():  # z P^T / T: the teacher's argmax (module docstring)
            for p in mlp.parameters():
                p.zero_()
            mlp.lin1.weight[:k] = self.protos
            mlp.lin1.weight[k : 2 * k] = -self.protos
            mlp.lin2.weight[:, :k] = eye
            mlp.lin2.weight[:, k : 2 * k] = -eye

    # --- the epochs: teacher, then rounds ------------------------------------------------------

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any]:
        state = self.run.state
        if state.best_epoch == epoch and epoch > self.best_from:  # a new best candidate
            self.best_probs, self.best_from = self._probs(), epoch
        if epoch == 0 or skip > 0:  # the teacher's epoch; a resumed, finished epoch
            return []
        r, at = divmod(epoch - 1, self.round_epochs)
        if at == 0:
            self._start_round(r, epoch)
        batch = {
            "node": self.round_nodes,
            "target": self.round_targets,
            "example_id": torch.arange(self.round_nodes.numel()),
        }
        dev = self.run.accelerator.device
        return [{k: v.to(dev) for k, v in batch.items()}]

    def _probs(self) -> Tensor:
        """``(N, K)`` softmax of network 0 over every node (eval mode; no RNG drawn)."""
        model = self.nets[0].model
        was = model.training
        model.eval()
        with torch.no_grad():
            nodes = torch.arange(self.labels.numel(), device=self.run.accelerator.device)
            probs = F.softmax(model(nodes).float(), dim=1).cpu()
        model.train(was)
        return probs

    def _start_round(self, r: int, epoch: int) -> None:
        """Pseudo-label from the best candidate; re-initialise network 0 and its optimizer."""
        o, n = self.options, self.labels.numel()
        best = self.best_probs
        sel, pseudo = confident_per_class(best, max(1, int(o.frac * n / self.num_classes)))
        if o.keep_agreeing:
            tr = self.train_nodes
            agree = tr[best[tr].argmax(1) == self.labels[tr]]
            fresh = ~torch.isin(sel, agree)
            sel = torch.cat([sel[fresh], agree])
            pseudo = torch.cat([pseudo[fresh], self.labels[agree]])
        self.round_nodes, self.round_targets = sel, pseudo
        clean = self.graph.y
        self.rounds.append(
            {
                "round": r,
                "first_epoch": epoch + 1,
                "teacher_epoch": self.best_from,
                "pseudo_labels": int(sel.numel()),
                "pseudo_label_accuracy": float((pseudo == clean[sel]).float().mean()),
            }
        )
        net = self.nets[0]
        module = self.run.accelerator.unwrap_model(net.model)
        with torch.random.fork_rng():
            torch.manual_seed(self.run.cfg.seed + 7919 * r)
            for m in module.modules():
                if m is not module and hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        getattr(net.optimizer, "optimizer", net.optimizer).state.clear()

    def step(self, batch: Any) -> StepOutput:
        net = self.nets[0]
        units = self.run.adapter.units(net.model, batch)
        unit_loss = net.loss_fn(units.pred, units.target, units.loss_id)
        self.check_finite(unit_loss)
        return StepOutput(unit_loss.mean())

    # --- outputs and state ---------------------------------------------------------------------

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process:
            return
        tr = self.train_nodes
        quality = self.teacher[tr].gather(1, self.noisy[:, None]).squeeze(1)
        issue = self.teacher[tr].argmax(1) != self.noisy
        with atomic_write(self.run.run_dir / "ppl.json") as f:
            json.dump(
                {
                    "rounds": self.rounds,
                    "selected_epoch": self.run.state.best_epoch,
                    "issues": issue.nonzero().flatten().tolist(),
                    "quality": quality.tolist(),
                },
                f,
            )

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_probs": self.best_probs,
            "best_from": self.best_from,
            "round_nodes": self.round_nodes,
            "round_targets": self.round_targets,
            "rounds": self.rounds,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_probs, self.best_from = state["best_probs"], state["best_from"]
        self.round_nodes, self.round_targets = state["round_nodes"], state["round_targets"]
        self.rounds = list(state["rounds"])
