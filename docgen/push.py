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
from dataclasses import dataclass, field
from pathlib import Path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def same_content(local: Path, remote) -> bool:
    """Whether a file the Hub lists (a RepoFile) holds the bytes of ``local``."""
    if remote.size != local.stat().st_size:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == sha256_of(local)
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
    shards = sorted((out / "data").glob("*.parquet"))
    if not shards:
        raise ValueError(f"no shards in {out / 'data'}: run `docgen shard` first")
    files = [(f"data/{p.name}", p) for p in shards]
    if (out / "README.md").is_file():
        files.append(("README.md", out / "README.md"))
    return files


def plan_push(out: Path, remote: dict) -> PushPlan:
    """What to upload, skip and delete, given the Hub's files (path -> RepoFile)."""
    plan = PushPlan()
    local = local_files(out)
    for path_in_repo, path in local:
        if path_in_repo in remote and same_content(path, remote[path_in_repo]):
            plan.skipped.append(path_in_repo)
        elif path_in_repo == "README.md":
            plan.card = (path_in_repo, path)
        else:
            plan.shards.append((path_in_repo, path))
    wanted = {p for p, _ in local}
    plan.deletes = sorted(
        p for p in remote if p.startswith("data/") and p.endswith(".parquet") and p not in wanted
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

    out = Path(out)
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"--repo wants USER/NAME (or ORG/NAME), got {repo!r}")
    api = HfApi()
    if not dry_run:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    plan = plan_push(out, remote_files(api, repo))
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
                f"push stopped at commit {n} of {len(steps)} ({type(exc).__name__}: "
                f"{str(exc)[:200]}); {commits} commit(s) landed. Run the same command again: "
                "files already on the Hub are skipped"
            ) from None
        commits += 1
        bar.update(sum(local.stat().st_size for _, local in adds))
    bar.close()
    return plan, commits


class PushInterrupted(ValueError):
    """The Hub refused or the connection dropped part-way; what was committed stays."""
