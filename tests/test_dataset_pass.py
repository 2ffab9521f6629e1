"""The dataset pass as steps over files decides exactly as one in-process pass over every page and
pair in order (tests/dataset_reference.py): on a generated set with known near-duplicates, in
this process and on 1, 2 and 3 Dask worker processes, and with a worker killed mid-pass."""

import os
import random
import signal
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dataset_reference import reference_verdicts

from docgen.core.config import FilterConfig
from docgen.core.executor import Executor
from docgen.core.workdir import WorkDir
from docgen.filter.dataset_pass import dedup_dataset

CFG = FilterConfig(max_page_copies=2, max_pair_copies=2)
PARTS = [f"{i:03d}" for i in range(24)]


def generated(work) -> dict:
    """24 partitions of pages: forms filled in (near-duplicates), exact copies, short receipts
    differing in one word, unique pages, empty pages; pairs shared across pages (common
    questions with the same or a reworded answer), pairs dropped by a partition rule. Returns
    how many of each kind were made."""
    rng = random.Random(7)
    words = [f"w{i}" for i in range(3000)]
    forms = [rng.choices(words, k=120) for _ in range(5)]
    wd = WorkDir(work)
    made: dict = {"pages": 0, "pairs": 0}
    for part in PARTS:
        pages, kept = [], []
        for d in range(6):
            doc = f"{part}-{d}"
            kind = rng.choice(["form", "form", "copy", "receipt", "unique", "empty"])
            if kind in ("form", "copy"):
                text = list(rng.choice(forms))
                if kind == "form":  # a filled-in form: a few fields differ
                    for at in rng.sample(range(len(text)), rng.randint(1, 12)):
                        text[at] = rng.choice(words)
                text = " ".join(text)
            elif kind == "receipt":
                text = f"Receipt {rng.randint(1, 4)} coffee total paid 4.50 EUR thank you"
            elif kind == "unique":
                text = " ".join(rng.choices(words, k=rng.randint(30, 200)))
            else:
                text = ""
            made[kind] = made.get(kind, 0) + 1
            pages.append({"doc_id": doc, "page": 1, "text": text})
            for q in range(rng.randint(1, 4)):
                common = rng.random() < 0.5
                question = f"What is field {rng.randint(1, 6)}?" if common else f"Q {doc} {q}?"
                answer = rng.choice(["the city", "the city office", f"v{rng.randint(1, 3)}"])
                reason = rng.choice([None] * 6 + ["ungrounded", "duplicate_question"])
                kept.append({"doc_id": doc, "pages": [1, 2] if q == 3 else [1],
                             "question": question, "answer": answer, "keep": reason is None,
                             "reason": reason})  # fmt: skip
        made["pages"] += len(pages)
        made["pairs"] += len(kept)
        wd.write(wd.part_path("pages", part), pa.Table.from_pylist(pages), f"p{part}", {})
        wd.write(wd.part_path("kept", part), pa.Table.from_pylist(kept), f"k{part}", {})
    return made


def verdicts(work) -> dict[str, list]:
    return {p: WorkDir(work).read("dataset/verdicts", p)["reason"].to_pylist() for p in PARTS}


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    work = tmp_path_factory.mktemp("reference")
    generated(work)
    return reference_verdicts(str(work), PARTS, CFG)


def test_nothing_to_compare_is_no_error(tmp_path):
    # No partitions at all; a partition whose pages hold no words and which has no pairs.
    assert dedup_dataset(str(tmp_path), [], CFG) == {}
    wd = WorkDir(tmp_path)
    wd.write(wd.part_path("pages", "a"), pa.Table.from_pylist([{"doc_id": "d", "page": 1,
             "text": ""}]), "p", {})  # fmt: skip
    text, flag = pa.string(), pa.bool_()
    schema = pa.schema([("doc_id", text), ("pages", pa.list_(pa.int64())), ("question", text),
                        ("answer", text), ("keep", flag), ("reason", text)])  # fmt: skip
    empty = schema.empty_table()
    wd.write(wd.part_path("kept", "a"), empty, "k", {})
    assert dedup_dataset(str(tmp_path), ["a"], CFG) == {}


def test_the_generated_set_holds_near_duplicates(expected):
    reasons = [r for part in expected.values() for r in part]
    assert reasons.count("near_duplicate_page") >= 40
    assert reasons.count("duplicate_pair") >= 30
    assert reasons.count("ungrounded") and reasons.count("duplicate_question")


def test_the_steps_decide_as_one_pass_in_order_and_a_rerun_rewrites_nothing(
    tmp_path, expected, monkeypatch
):
    import docgen.filter.dataset_edges
    import docgen.filter.dataset_pass

    # Surplus lists in row groups of 4: each partition reads only the groups that can hold it;
    # each band's buckets split over several tasks.
    monkeypatch.setattr(docgen.filter.dataset_pass, "SURPLUS_ROW_GROUP", 4)
    monkeypatch.setattr(docgen.filter.dataset_pass, "MEMBERS_PER_TASK", 100)
    # Shuffled in blocks of a few partitions, in row groups of 16: an edges task reads only
    # the groups that can hold its share.
    monkeypatch.setattr(docgen.filter.dataset_edges, "BLOCK_MEMBERS", {"page": 60, "pair": 60})
    monkeypatch.setattr(docgen.filter.dataset_edges, "SHARE_ROW_GROUP", 16)
    generated(tmp_path)
    drops = dedup_dataset(str(tmp_path), PARTS, CFG)
    assert verdicts(tmp_path) == expected
    flat = [r for part in expected.values() for r in part]
    assert drops == {k: flat.count(k) for k in ("near_duplicate_page", "duplicate_pair")}
    assert len(list((tmp_path / "dataset" / "pair-edges").glob("part-0-*.parquet"))) > 2
    shuffled = list((tmp_path / "dataset" / "pair-band-0").glob("part-*.parquet"))
    assert len(shuffled) > 2
    assert max(pq.ParquetFile(p).metadata.num_row_groups for p in shuffled) > 1
    written = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    assert dedup_dataset(str(tmp_path), PARTS, CFG) == drops
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")} == written


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_same_verdicts_on_any_number_of_workers(tmp_path, expected, workers):
    from dask.distributed import Client, LocalCluster

    generated(tmp_path)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        dedup_dataset(str(tmp_path), PARTS, CFG, Executor(client))
    assert verdicts(tmp_path) == expected


def test_a_worker_killed_mid_pass_changes_no_verdict(tmp_path, expected):
    from dask.distributed import Client, LocalCluster

    generated(tmp_path)
    signatures = tmp_path / "dataset" / "page-signatures"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        pids = list(client.run(os.getpid).values())
        killed = []

        def kill_once_signatures_are_written():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                written = len(list(signatures.glob("part-*.parquet")))
                if written:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(written)
                    return
                time.sleep(0.005)

        killer = threading.Thread(target=kill_once_signatures_are_written)
        killer.start()
        dedup_dataset(str(tmp_path), PARTS, CFG, Executor(client))
        killer.join()
    assert killed and killed[0] < len(PARTS)  # killed while the step was under way
    assert verdicts(tmp_path) == expected
