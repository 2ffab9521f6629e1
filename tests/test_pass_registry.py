"""The registry of the filter's passes is what the run, the fingerprints, the view and the
summary read: a pass's settings never make the rules filter again, and every LLM pass names a
partition function and a prompt set that exist."""

from dataclasses import replace

from docgen.core.config import FilterConfig, load_config
from docgen.core.workdir import WorkDir
from docgen.filter import passes
from docgen.filter.rules import filter_partition
from docgen.generate.chats import load_prompts
from docgen.run.pipeline import run_pipeline

# A value other than the default for every setting a pass declares (a new pass adds its own).
CHANGED = {"max_page_copies": 2, "page_similarity": 0.5, "max_pair_copies": 2,
           "pair_similarity": 0.5, "judge": True, "judge_min_score": 2,
           "min_ratings": {"relevance": 2}, "translate_to": ["fr"],
           "back_translation_ratio": 50, "unanswerable_share": 0.1,
           "decontaminate_images": "/benchmark", "image_match_bits": 10}  # fmt: skip


def test_a_pass_setting_changed_does_not_filter_again(few_samples, tmp_path):
    assert set(CHANGED) == passes.SETTINGS
    cfg = load_config("default", [f"input={few_samples}", f"work={tmp_path / 'w'}",
                                  f"out={tmp_path / 'o'}", "run.scheduler=sync",
                                  "run.progress=false"])  # fmt: skip
    run_pipeline(cfg)
    (part,) = WorkDir(cfg.work).parts("kept")
    for name, value in CHANGED.items():
        assert getattr(cfg.filter, name) != value, name
        stats = filter_partition(cfg.work, part, replace(cfg.filter, **{name: value}))
        assert stats.get("skipped") == 1, f"filter.{name} made the rules filter again"
    # A rules setting does.
    assert not filter_partition(cfg.work, part, replace(cfg.filter, min_question_chars=7)).get(
        "skipped"
    )


def test_every_pass_is_declared_whole():
    assert [p.name for p in passes.REGISTRY][0] == "dataset"  # the order the view joins them
    for p in passes.REGISTRY:
        assert p.on(FilterConfig()) in (True, False) and p.settings
        assert all(hasattr(FilterConfig(), s) for s in p.settings), p.name
        # run per partition with the model, over the whole dataset, or per partition alone
        assert [bool(p.partition), bool(p.whole), bool(p.local)].count(True) == 1, p.name
        assert callable(p.function), p.name
        if p.partition:  # an LLM pass
            assert load_prompts(p.name).schema  # its prompt set, prompts/<name>
