"""``docgen push OUT --repo USER/NAME``: upload shards and card to the Hugging Face Hub.

Uses ``huggingface_hub`` (never ``git``). The upload is split into commits of a few shards each, so
an interrupted push keeps what it committed: run it again and it lists what the Hub already has,
skips every file whose content is the same (sha256 for LFS files, the git blob id otherwise) and
goes on from there. The card goes last, with the removal of shards an earlier, larger push left
behind, so the Hub never shows a card for data that is not all there. The token is resolved by
``huggingface_hub`` (``HF_TOKEN`` or ``hf auth login``) and never printed or logged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from docgen.core.secret import redact
from docgen.core.storage import is_local, location
from docgen.shard.schema import CONFIG_DIRS

SHARD_FOLDERS = tuple(CONFIG_DIRS.values())  # every config's shards
EXTRA_FILES = ("dataset_info.json",)  # the ShareGPT config's LLaMA-Factory entries


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HashCache:
    """sha256 of local files, kept in ``OUT/.push-hashes.json`` by path, size and mtime, so a
    rerun (after an interruption, or to check) need not read every shard again: at Docmatix scale
    that is 159 GB of reading. A rewritten shard has a new mtime and is hashed afresh."""

    NAME = ".push-hashes.json"

    def __init__(self, out: Path):
        self.path = out / self.NAME
        try:
            self.entries = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self.changed = False

    def key(self, path: Path) -> str:
        return path.name if path.parent == self.path.parent else f"{path.parent.name}/{path.name}"

    def sha256(self, path: Path) -> str:
        st = path.stat()
        entry = self.entries.get(self.key(path))
        if entry and entry["size"] == st.st_size and entry["mtime_ns"] == st.st_mtime_ns:
            return entry["sha256"]
        digest = sha256_of(path)
        self.record(path, digest)
        return digest

    def record(self, path: Path, digest: str) -> None:
        """Remember a hash computed elsewhere (the Hub client hashes every file it uploads)."""
        st = path.stat()
        entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self.entries[self.key(path)] = entry
        self.changed = True

    def save(self) -> None:
        if self.changed:
            tmp = self.path.with_name(self.NAME + ".tmp")
            tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True), "utf-8")
            tmp.replace(self.path)
            self.changed = False


def same_content(local: Path, remote, hashes: HashCache) -> bool:
    """Whether a file the Hub lists (a RepoFile) holds the bytes of ``local``."""
    if remote.size != local.stat().st_size:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == hashes.sha256(local)
    return remote.blob_id == git_blob_id(local)


@dataclass
class PushPlan:
    shards: list[tuple[str, Path]] = field(default_factory=list)  # (path in repo, local file)
    card: tuple[str, Path] | None = None
    skipped: list[str] = field(default_factory=list)  # already on the Hub, same content
    deletes: list[str] = field(default_factory=list)  # stale shards on the Hub

    @property
    def upload_bytes(self) -> int:
        files = self.shards + ([self.card] if self.card else [])
        return sum(p.stat().st_size for _, p in files)


def local_files(out: Path) -> list[tuple[str, Path]]:
    if not any((out / "data").glob("*.parquet")):
        raise ValueError(f"no shards in {out / 'data'}: run `docgen shard` first")
    files = [
        (p.relative_to(out).as_posix(), p)
        for folder in SHARD_FOLDERS
        for p in sorted((out / folder).glob("**/*.parquet"))
    ]
    files += [(name, out / name) for name in EXTRA_FILES if (out / name).is_file()]
    if (out / "README.md").is_file():
        files.append(("README.md", out / "README.md"))
    return files


def plan_push(out: Path, remote: dict, hashes: HashCache) -> PushPlan:
    """What to upload, skip and delete, given the Hub's files (path -> RepoFile)."""
    plan = PushPlan()
    local = local_files(out)
    for path_in_repo, path in local:
        if path_in_repo in remote and same_content(path, remote[path_in_repo], hashes):
            plan.skipped.append(path_in_repo)
        elif path_in_repo == "README.md":
            plan.card = (path_in_repo, path)
        else:
            plan.shards.append((path_in_repo, path))
    hashes.save()
    wanted = {p for p, _ in local}
    plan.deletes = sorted(
        p
        for p in remote
        if (p.split("/")[0] in SHARD_FOLDERS and p.endswith(".parquet") or p in EXTRA_FILES)
        and p not in wanted
    )
    return plan


def remote_files(api, repo: str) -> dict:
    from huggingface_hub.errors import RepositoryNotFoundError
    from huggingface_hub.hf_api import RepoFile

    try:
        tree = api.list_repo_tree(repo, repo_type="dataset", recursive=True)
        return {f.path: f for f in tree if isinstance(f, RepoFile)}
    except RepositoryNotFoundError:
        return {}


def push(
    out: str | Path,
    repo: str,
    private: bool = False,
    dry_run: bool = False,
    files_per_commit: int = 20,
    progress: bool = True,
) -> tuple[PushPlan, int]:
    """Push ``OUT`` to the dataset repo ``repo``; returns the plan and the commits made."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from tqdm import tqdm

    out = location(out)
    if not is_local(out):
        raise ValueError(
            f"push uploads from a local folder and {out} is a URL: copy it to one first "
            "(with your store's own tool, e.g. `aws s3 sync`), then push the copy"
        )
    if not out.is_dir():  # before the Hub is asked anything
        raise ValueError(f"{out}: no such folder (write it with `docgen run` or `docgen shard`)")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"--repo wants USER/NAME (or ORG/NAME), got {repo!r}")
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # its retry warnings: what failed is said once, below
    api = HfApi()
    try:
        if not dry_run:
            api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        remote = remote_files(api, repo)
    except Exception as exc:  # noqa: BLE001 - HTTP and network errors of every kind: one line
        raise ValueError(hub_error(exc, repo)) from None
    card = out / "README.md"
    if card.is_file() and not dry_run:  # the card's loading snippet and citation name the repo
        from docgen.shard.card_sections import on_the_hub

        card.write_text(on_the_hub(card.read_text("utf-8"), repo), "utf-8")
    hashes = HashCache(out)
    plan = plan_push(out, remote, hashes)
    if dry_run:
        return plan, 0
    batches = [
        plan.shards[i : i + files_per_commit] for i in range(0, len(plan.shards), files_per_commit)
    ]
    final = ([plan.card] if plan.card else [], plan.deletes)
    commits = 0
    bar = tqdm(
        total=plan.upload_bytes, unit="B", unit_scale=True, desc="push", disable=not progress
    )
    steps = [(batch, []) for batch in batches]
    if final[0] or final[1]:
        steps.append(final)
    for n, (adds, deletes) in enumerate(steps, 1):
        operations = [CommitOperationAdd(p, str(local)) for p, local in adds]
        operations += [CommitOperationDelete(p) for p in deletes]
        names = [p for p, _ in adds] + [f"-{p}" for p in deletes]
        message = f"docgen: {names[0]}" + (f" … {names[-1]}" if len(names) > 1 else "")
        try:
            api.create_commit(repo, operations, commit_message=message, repo_type="dataset")
        except Exception as exc:
            bar.close()
            raise PushInterrupted(
                f"push stopped at commit {n} of {len(steps)} ({hub_error(exc, repo)}); "
                f"{commits} commit(s) landed. Run the same command again: files already on the "
                "Hub are skipped"
            ) from None
        commits += 1
        for op, (_, local) in zip(operations, adds):
            hashes.record(local, op.upload_info.sha256.hex())
        hashes.save()  # after each commit: a later interruption keeps what is known
        bar.update(sum(local.stat().st_size for _, local in adds))
    bar.close()
    return plan, commits


def hub_error(exc: Exception, repo: str) -> str:
    """One line for what the Hub (or the way to it) answered, with the token taken out."""
    from huggingface_hub import get_token

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 401:
        why = "the Hub refused the token (HTTP 401): `hf auth login`, or set HF_TOKEN"
    elif status == 403:
        why = f"the token may not write to {repo} (HTTP 403)"
    elif status is not None:
        why = f"the Hub answered HTTP {status}"
    else:
        why = "cannot reach the Hub"
    detail = " ".join(redact(str(exc), get_token()).split())  # before it is cut: no half token
    return f"{why}: {type(exc).__name__}: {detail[-200:]}"


class PushInterrupted(ValueError):
    """The Hub refused or the connection dropped part-way; what was committed stays."""
