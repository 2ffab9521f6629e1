"""``train.report_to``: the lines of ``metrics.jsonl`` also sent to experiment trackers.

- ``tensorboard``: event files in OUTPUT/runs (``tensorboard --logdir OUTPUT/runs``);
- ``wandb``: a Weights & Biases run in project ``$WANDB_PROJECT`` (default ``docgen``), named
  after OUTPUT; ``WANDB_MODE=offline`` keeps it on disk (``wandb sync`` later).

Each tracker is imported only when asked for; one that is not installed stops the run before
the model is loaded, and one that cannot start (wandb without a login) stops it, in one line.
Only the first process of a multi-process run reports; a resumed run goes on at the step it
resumes from.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb"}  # name: the package it needs


def check(names: list[str]) -> None:
    """ValueError (one line) when a tracker asked for is not installed."""
    for name in names:
        if importlib.util.find_spec(TRACKERS[name]) is None:
            raise ValueError(
                f"train.report_to: {name} is not installed (pip install {TRACKERS[name]}, "
                "or docgen[trackers])"
            )


class Trackers:
    """The trackers of ``names``, started for the run writing to ``output``."""

    def __init__(self, names: list[str], output: Path, config: dict):
        check(names)
        self.writers = []
        if "tensorboard" in names:
            from torch.utils.tensorboard import SummaryWriter

            self.writers.append(TensorBoard(SummaryWriter(str(output / "runs"))))
        if "wandb" in names:
            import wandb

            project = os.environ.get("WANDB_PROJECT", "docgen")
            try:
                run = wandb.init(project=project, name=output.resolve().name, config=config,
                                 dir=str(output))  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - no login, no network, a bad setting: one line
                self.close()
                raise ValueError(f"train.report_to: wandb could not start a run "
                                 f"({type(exc).__name__}: {str(exc)[:200]})") from None  # fmt: skip
            self.writers.append(WandB(run))

    def log(self, line: dict) -> None:
        values = {k: v for k, v in line.items() if k != "step" and isinstance(v, int | float)}
        for writer in self.writers:
            writer.log(values, line["step"])

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


class TensorBoard:
    def __init__(self, writer):
        self.writer = writer

    def log(self, values: dict, step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"train/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandB:
    def __init__(self, run):
        self.run = run

    def log(self, values: dict, step: int) -> None:
        self.run.log({f"train/{k}": v for k, v in values.items()}, step=step)

    def close(self) -> None:
        self.run.finish()
