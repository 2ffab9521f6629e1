"""Ratings are columns, not gates: no rating drops a pair unless filter.min_ratings names its
scale (the rater still grounds the kinds that skip the span check), and the trainer leaves out
the turns rated low (`docgen train --min-ratings`)."""

import itertools

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from docgen.cli import main
from docgen.core.settings import FilterConfig
from docgen.filter.rate import verdict
from docgen.train.data import rated, rating_columns, row_stream, split_files

LOW = {"relevance": 1, "visual_dependency": 1, "image_correspondence": 5, "formatting": 1}


def pair(kind="extractive") -> dict:
    return {"keep": True, "reason": None, "kind": kind}


def test_a_low_rating_keeps_the_pair_unless_its_scale_is_named():
    named = FilterConfig(min_ratings={"relevance": 3})
    assert verdict(pair(), LOW, FilterConfig()) is None
    assert verdict(pair(), LOW, named) == "rated_low:relevance"
    assert verdict(pair(), {**LOW, "relevance": None}, named) is None  # unrated: kept


def test_the_rater_still_grounds_what_skipped_the_span_check():
    unseen, unrated = {**LOW, "image_correspondence": 2}, {**LOW, "image_correspondence": None}
    lenient = FilterConfig(min_ratings={"image_correspondence": 2})
    assert verdict(pair("visual"), unseen, FilterConfig()) == "rated_low:image_correspondence"
    assert verdict(pair(), unseen, FilterConfig()) is None  # span-checked already
    assert verdict(pair("visual"), unseen, lenient) is None
    assert verdict(pair("visual"), unrated, FilterConfig()) == "unrated"


def test_the_trainer_leaves_out_the_turns_rated_low(train_shards, tmp_path):
    shard = split_files(train_shards, "train")[0]
    table = pq.read_table(shard)
    cycle = itertools.cycle([1, 5, None])
    ratings = [[next(cycle) for _ in texts] for texts in table["texts"].to_pylist()]
    copy = tmp_path / shard.name
    column = pa.array(ratings, pa.list_(pa.int8()))
    pq.write_table(table.append_column("relevance_ratings", column), copy)
    want = {"relevance": 3}
    columns = ["images", "texts", *rating_columns([copy], want)]
    seen = 0
    for row in itertools.islice(row_stream([copy], 0, columns), table.num_rows):
        kept = rated(row, want)["texts"]
        assert kept == [t for t, r in zip(row["texts"], row["relevance_ratings"]) if r != 1]
        seen += len(row["texts"]) - len(kept)
    assert seen == sum(r.count(1) for r in ratings) > 0

    with pytest.raises(ValueError, match="make the shards with filter.rate=true"):
        rating_columns([shard], want)  # shards made without ratings


def test_min_ratings_on_the_command_line_is_checked(train_shards, tmp_path, capsys):
    args = ["train", "--data", str(train_shards), "--out", str(tmp_path / "m"), "--model", "tiny"]
    assert main([*args, "--min-ratings", "clarity=3"]) == 2
    assert "train.min_ratings: 'clarity': 3 does not fit" in capsys.readouterr().err
    assert main([*args, "--min-ratings", "relevance=3", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make the shards with filter.rate=true" in err[0]
