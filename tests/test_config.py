import pytest

from docgen.core.config import load_config


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("input: pdfs\nwork: w\nextract:\n  dpi: 100\n")
    cfg = load_config(path, ["extract.dpi=200", "generate.pairs_per_page=3", "run.scheduler=sync"])
    assert cfg.input == ["pdfs"] and cfg.work == "w"
    assert cfg.extract.dpi == 200 and cfg.extract.max_image_side == 2940
    assert cfg.generate.pairs_per_page == 3 and cfg.run.scheduler == "sync"


def test_unknown_keys_are_errors():
    with pytest.raises(ValueError, match="extract.dpj"):
        load_config(None, ["extract.dpj=3"])
    with pytest.raises(ValueError, match="key=value"):
        load_config(None, ["extract.dpi"])


def test_default_pipeline_config_loads():
    cfg = load_config("default")
    assert cfg.generate.backend == "rules" and cfg.input == ["data/samples"]


def test_vllm_engine_settings_are_checked_before_any_work():
    from docgen.generate.backends import get_backend

    with pytest.raises(ValueError, match="generate.engine_args: \\[1\\] is not a mapping"):
        load_config("vllm", ["generate.model=m", "generate.engine_args=[1]"])
    with pytest.raises(ValueError, match="generate.engine_python: 3 is not a string or null"):
        load_config("vllm", ["generate.model=m", "generate.engine_python=3"])
    good = ["generate.model=m", "generate.engine_args={enforce_eager: true, dtype: bfloat16}"]
    backend = get_backend(load_config("vllm", good).generate)
    assert backend.engine_kwargs()["enforce_eager"] is True
    assert backend.engine_kwargs()["dtype"] == "bfloat16"


BAD_VALUES = [
    ("extract.dpi=0", "extract.dpi: 0 is out of range; it takes from 36 to 1200"),
    ("shard.chat_configs=[grounded]", "grounded writes each answer's boxes: it needs shard.answer"),
    ("extract.image_format=gif", "extract.image_format: 'gif' is not one of png, jpeg, webp"),
    ("extract.page_timeout_s=0", "extract.page_timeout_s: 0 is out of range; it takes above 0"),
    ("extract.memory_mb=1", "memory_mb: 1 is out of range; it takes 0 (off) or at least 256"),
    ("generate.top_p=0", "generate.top_p: 0 is out of range; it takes above 0 and at most 1"),
    ("shard.test_fraction=2", "shard.test_fraction: 2 is out of range; it takes from 0 to"),
    ("shard.test_fraction=1", "shard.test_fraction: 1 is out of range; it takes from 0 to below"),
    ("generate.concurrency=-4", "generate.concurrency: -4 is out of range"),
    ("shard.max_shard_mb=0", "shard.max_shard_mb: 0 is out of range; it takes above 0"),
    ("generate.backend=gpt", "generate.backend: 'gpt' is not one of rules, openai, vllm"),
    ("shard.chat_configs=[messages,llava]", "shard.chat_configs: 'llava' is not one of messages,"),
    ("extract=3", "config extract: a section of keys, not 3"),
    ("extract.dpi=high", "extract.dpi: 'high' is not a whole number"),
    ("extract.dpi=150.5", "extract.dpi: 150.5 is not a whole number"),
    ("filter.judge=2", "filter.judge: 2 is not true or false"),
    ("generate.temperature=.nan", "generate.temperature: nan is not a number"),
    ("extract.ocr_languages=[1]", "extract.ocr_languages: [1] is not a list of strings"),
    ("generate.token_budget=0", "generate.token_budget: 0 is out of range; it takes at least 1"),
    ("train.batching=zip", "train.batching: 'zip' is not one of pad, pack, bucket"),
]


@pytest.mark.parametrize("override,line", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_every_value_is_checked_before_any_work(tmp_path, few_samples, capsys, override, line):
    from docgen.cli import main

    work, out = tmp_path / "work", tmp_path / "out"
    argv = ["run", "--input", str(few_samples), "--work", str(work), "--out", str(out)]
    assert main([*argv, "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("docgen run: error: config ") and err.count("\n") == 1
    assert line.removeprefix("config ") in err
    assert not work.exists() and not out.exists()


def test_every_setting_is_declared_once_with_what_it_takes(tmp_path):
    """The config is the schema: each setting's check and help live on its field; the choices
    the code and the CLI offer are read from there; `config show --effective` prints every
    value with its help and what it takes, and loads back as the same config."""
    import dataclasses

    from docgen.core.config import annotated
    from docgen.core.config_check import values
    from docgen.core.settings import GenerateConfig
    from docgen.generate.backends import BACKENDS
    from docgen.generate.prompting import INPUTS

    # A value over several lines (a title with a newline and a "#") keeps its note outside it.
    cfg = load_config("openai", ["extract.dpi=100", 'shard.name="a\\nb # not a comment"'])
    fields = {key: f for key, _, _, f in values(cfg)}
    assert fields["extract.dpi"].metadata["check"].ok(150)
    assert not fields["extract.dpi"].metadata["check"].ok(10)
    choice = {f.name: f.metadata["check"] for f in dataclasses.fields(GenerateConfig)}
    assert BACKENDS == choice["backend"] and INPUTS == choice["input"]
    text = annotated(cfg)
    assert "dpi: 100  # Docmatix rendered at 150 dpi ...; takes from 36 to 1200" in text
    assert "  backend: openai  # one of rules, openai, vllm" in text
    (tmp_path / "same.yaml").write_text(text, "utf-8")
    assert load_config(str(tmp_path / "same.yaml")) == cfg
    assert cfg.shard.name == "a\nb # not a comment"


def test_good_values_pass_and_a_whole_number_is_a_number():
    good = ["extract.max_file_mb=50", "generate.pairs_per_page=null", "extract.memory_mb=0"]
    cfg = load_config("default", good)
    assert cfg.extract.max_file_mb == 50 and cfg.generate.pairs_per_page is None


def test_a_missing_input_makes_no_work_or_out(tmp_path, capsys):
    from docgen.cli import main

    work, out = tmp_path / "work", tmp_path / "out"
    argv = ["run", "--input", str(tmp_path / "nope"), "--work", str(work), "--out", str(out)]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"docgen run: error: input not found: {tmp_path / 'nope'}\n"
    assert not work.exists() and not out.exists()


def test_off_is_a_value_not_false_and_yes_is_not_a_boolean(tmp_path):
    """YAML 1.1 reads off/on/yes/no as booleans; settings whose values include off must get
    "off" from a file and from --set, and a boolean is only true or false."""
    (tmp_path / "run.yaml").write_text("extract:\n  ocr: off\n  tables: off\n", "utf-8")
    cfg = load_config(str(tmp_path / "run.yaml"), [])
    assert (cfg.extract.ocr, cfg.extract.tables) == ("off", "off")
    assert load_config(None, ["extract.ocr=off"]).extract.ocr == "off"
    assert load_config(None, ["run.progress=false"]).run.progress is False
    with pytest.raises(ValueError, match="run.progress: 'yes' is not true or false"):
        load_config(None, ["run.progress=yes"])
