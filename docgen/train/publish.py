"""``--push-to-hub``: the trained model, its processor and a model card, as one Hub commit.

The card names the base model and the dataset it was trained on (the Hub id when the data came
from the Hub, else the dataset card's name), the training settings, and the scores of every
``docgen eval`` run so far (``eval-SPLIT.json`` beside the model): ``docgen eval --push-to-hub``
updates it. Checkpoints, the tiny base and the predictions stay local.
"""

from __future__ import annotations

import json
from fnmatch import fnmatch
from pathlib import Path

import yaml

from docgen.shard.push import hub_error
from docgen.train.evaluate import GROUPS

LOCAL_ONLY = ["checkpoints/*", "base/*", "base.tmp/*", "wandb/*", "*.jsonl", ".*"]


def dataset_name(data: str) -> tuple[str | None, str]:
    """(Hub id or None, the name to show) of the data a model was trained on."""
    card = Path(data) / "README.md"
    if card.is_file():
        head = card.read_text("utf-8").split("---")
        meta = yaml.safe_load(head[1]) if len(head) > 2 else {}
        return None, (meta or {}).get("pretty_name") or Path(data).name
    if data.count("/") == 1 and not Path(data).exists():
        return data, data
    return None, data


def model_card(output: Path) -> str:
    info = json.loads((output / "train_config.json").read_text("utf-8"))
    hub_id, name = dataset_name(str(info["data"]))
    base = info["model"] if not str(info["model"]).endswith("/base") else None
    train = info["train"]
    meta = {
        "library_name": "transformers",
        "pipeline_tag": "image-text-to-text",
        "tags": ["docgen", "document-vqa", "idefics3"],
        **({"base_model": base} if base else {}),
        **({"datasets": [hub_id]} if hub_id else {}),
    }
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
        f"# {output.name}",
        "",
        f"An Idefics3-style vision-language model fine-tuned by `docgen train` on **{name}** "
        f"(document question answering), from {f'`{base}`' if base else 'a small random model'}.",
        "",
        "## Training",
        "",
        f"{train['steps']} steps of {train['batch_size']} sequences x {train['grad_accum']} "
        f"accumulated, {train['max_length']} tokens, learning rate {train['lr']}, batching "
        f"`{train['batching']}`, adapter `{train['adapter']}`"
        + (", gradient checkpointing" if train.get("gradient_checkpointing") else "")
        + "; loss on the answers only.",
        "",
    ]
    scores = sorted(output.glob("eval-*.json"))
    if scores:
        lines += ["## Evaluation (ANLS, DocVQA's; typed match: docgen.verify)", "",
                  "| split | subset | questions | ANLS | exact match | typed match | box IoU |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for path in scores:
            r = json.loads(path.read_text("utf-8"))
            split = path.stem.removeprefix("eval-")
            subsets = [("all", r)] + [(f"{group} {name}", s) for group in GROUPS
                                      for name, s in r.get(f"per_{group}", {}).items()]  # fmt: skip
            for subset, s in subsets:
                lines.append(f"| {split} | {subset} | {s['questions']} | {s['anls']} | "
                             f"{s['exact_match']} | {s.get('typed_match', '')} | "
                             f"{s.get('box_iou', '')} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def push_model(output: str | Path, repo: str, private: bool = False) -> str:
    """Write the model card and upload the model folder to the model repo ``repo``."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.utils import logging as hub_logging

    output = Path(output)
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"--push-to-hub wants USER/NAME (or ORG/NAME), got {repo!r}")
    if not (output / "train_config.json").is_file():
        raise ValueError(f"{output}: no trained model here (run `docgen train` first)")
    (output / "README.md").write_text(model_card(output), "utf-8")
    hub_logging.set_verbosity_error()
    api = HfApi()
    files = sorted(p for p in output.rglob("*") if p.is_file())
    names = [p.relative_to(output).as_posix() for p in files]
    adds = [CommitOperationAdd(name, str(path)) for name, path in zip(names, files)
            if not any(fnmatch(name, pattern) for pattern in LOCAL_ONLY)]  # fmt: skip
    try:
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        api.create_commit(repo, adds, commit_message="docgen: trained model and card",
                          repo_type="model")  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - HTTP and network errors of every kind: one line
        raise ValueError(hub_error(exc, repo)) from None
    return repo
