"""Run every selector on uneven shards of fixed global batches; write the gathered weights.

``test_distributed_selection.py`` launches this with ``accelerate launch --multi_gpu
--num_processes 2`` on CPU and compares with :func:`run` in one process (``gather=None``).
Usage: ``python dist_selection_script.py OUT.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import torch

from labelnoise.common.selection import SELECTORS, CoTeaching, build_selector, gather_all

N, C, EPOCHS, BATCH = 48, 6, 3, 16


def run(rank: int, world: int, gather: Callable | None) -> dict[str, list]:
    """Weights of every selector for every global batch, gathered in global order."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(N, C, generator=g)
    target = torch.randint(0, C, (N,), generator=g)
    losses = torch.rand(2, EPOCHS, N, generator=g) * torch.linspace(0.1, 3.0, N)
    perms = [torch.randperm(N, generator=g) for _ in range(EPOCHS)]
    cut = 9 if world == 2 else BATCH  # uneven shards: 9 + 7 units per global batch of 16
    selectors = {name: build_selector(name, num_examples=N, gather=gather) for name in SELECTORS}
    selectors["coteaching"] = CoTeaching(
        num_examples=N, gather=gather, forget_rate=0.4, num_gradual=2
    )
    results: dict[str, list] = {}
    for name, sel in selectors.items():
        rows = []
        for epoch in range(EPOCHS):
            for step, start in enumerate(range(0, N, BATCH)):
                idx = perms[epoch][start : start + BATCH]
                idx = idx[:cut] if rank == 0 else idx[cut:]
                loss = losses[0, epoch, idx]
                if isinstance(sel, CoTeaching):
                    ws = sel.select(loss, losses[1, epoch, idx], idx, step=step)
                else:
                    ws = (sel(loss, idx, step=step, logits=logits[idx], target=target[idx]),)
                rows.append([gather_all(w, gather).tolist() for w in ws])
            sel.on_epoch_end(epoch)
        results[name] = rows
    return results


def main(out: str) -> None:
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    results = run(acc.process_index, acc.num_processes, acc.gather)
    if acc.is_main_process:
        with open(out, "w") as f:
            json.dump(results, f)
    acc.wait_for_everyone()
    acc.end_training()  # destroys the process group: exiting with it open can abort


if __name__ == "__main__":
    main(sys.argv[1])
