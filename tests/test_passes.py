"""The one view of a partition (docgen.filter.passes): kept joined with each pass's own file, in
order, only while each file was made from the view before it."""

import pyarrow as pa
import pytest

from docgen.core.workdir import WorkDir
from docgen.filter import passes

ROWS = [
    {"pair_id": f"p{i}", "question": f"Q{i}?", "lang": "en", "keep": keep, "reason": reason}
    for i, (keep, reason) in enumerate([(True, None), (False, "ungrounded"), (True, None)])
]


def verdicts(reasons: list, **extra) -> pa.Table:
    return pa.table({"keep": [r is None for r in reasons], "reason": pa.array(reasons, pa.string()),
                     **extra})  # fmt: skip


def make(wd: WorkDir, name: str, table: pa.Table, view: pa.Table, mark: str, finished=True):
    """Pass ``name``'s file for partition a (made with setting ``mark``); its counts."""
    return passes.run_pass(wd, name, "a", [mark], lambda _: (table, view, {}, finished))


def done(wd: WorkDir, name: str, mark: str) -> bool:
    """Whether pass ``name`` is done over the view of a with setting ``mark``."""
    return passes.run_pass(wd, name, "a", [mark], lambda _: 1 / 0) == {"skipped": 1}


def test_the_view_joins_each_pass_made_from_the_view_before_it(tmp_path):
    wd = WorkDir(tmp_path)
    kept = pa.Table.from_pylist(ROWS)
    wd.write(wd.part_path("kept", "a"), kept, "k1", {})
    wd.update_manifest(**{passes.MANIFEST_KEY: ["dataset", "judge", "translate"]})
    assert passes.joined(wd, "a") == kept
    make(wd, "dataset", verdicts([None, "ungrounded", "duplicate_pair"]), kept, "d1")
    assert passes.input_fingerprint(wd, "a", "judge") == wd.fingerprint_of(
        wd.part_path("dataset/verdicts", "a")
    )
    scores = pa.array([2, None, None], pa.int8())
    judged = verdicts(["judge_low_score", "ungrounded", "duplicate_pair"], judge_score=scores)
    make(wd, "judge", judged, kept, "j1")
    before = passes.joined(wd, "a", upto="translate")
    before = before.append_column("translated_from", pa.nulls(3, pa.string()))
    at = before.schema.get_field_index("translated_from")
    added = before.slice(0, 1).set_column(at, "translated_from", pa.array(["fr"]))
    make(wd, "translate", added, pa.concat_tables([before, added]), "t1")

    view = passes.joined(wd, "a").to_pylist()
    assert [r["reason"] for r in view] == ["judge_low_score", "ungrounded", "duplicate_pair",
                                           "judge_low_score"]  # fmt: skip
    assert [r["translated_from"] for r in view] == [None, None, None, "fr"]
    assert [r["judge_score"] for r in view] == [2, None, None, 2]
    assert passes.joined(wd, "a", columns=["pair_id", "nothing"]).schema.names == ["pair_id"]
    assert passes.final_stats(wd, "a")["pairs"] == 4

    # A pass the config turns off is not joined, nor what was made after it.
    wd.update_manifest(**{passes.MANIFEST_KEY: ["dataset", "translate"]})
    assert [r["reason"] for r in passes.joined(wd, "a").to_pylist()] == [
        None, "ungrounded", "duplicate_pair"]  # fmt: skip
    # Kept written again by the rules (other settings): no pass file of the old view is joined.
    wd.update_manifest(**{passes.MANIFEST_KEY: ["dataset", "judge", "translate"]})
    wd.write(wd.part_path("kept", "a"), kept, "k2", {})
    assert passes.joined(wd, "a") == kept
    with pytest.raises(ZeroDivisionError):  # not done: run again
        done(wd, "dataset", "d1")


def test_an_unfinished_pass_is_joined_but_never_taken_as_done(tmp_path):
    wd = WorkDir(tmp_path)
    kept = pa.Table.from_pylist(ROWS)
    wd.write(wd.part_path("kept", "a"), kept, "k1", {})
    wd.update_manifest(**{passes.MANIFEST_KEY: ["judge"]})
    make(wd, "judge", verdicts(["judge_low_score", "ungrounded", None]), kept, "j1", False)
    assert passes.joined(wd, "a")["reason"].to_pylist()[0] == "judge_low_score"
    with pytest.raises(ZeroDivisionError):
        done(wd, "judge", "j1")
    first = passes.input_fingerprint(wd, "a", "translate")
    make(wd, "judge", verdicts(["judge_low_score", "ungrounded", None]), kept, "j1", False)
    # A later pass reads it anew each time: what it was made from may have changed.
    assert passes.input_fingerprint(wd, "a", "translate") != first
    make(wd, "judge", verdicts(["judge_low_score", "ungrounded", None]), kept, "j1")
    assert done(wd, "judge", "j1")
