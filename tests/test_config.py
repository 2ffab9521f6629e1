import pytest

from docgen.config import load_config


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
    from docgen.backends import get_backend

    cfg = load_config("vllm", ["generate.model=m", "generate.engine_args=[1]"])
    with pytest.raises(ValueError, match="engine_args must be a mapping"):
        get_backend(cfg.generate)
    cfg = load_config("vllm", ["generate.model=m", "generate.engine_python=3"])
    with pytest.raises(ValueError, match="engine_python must be a path"):
        get_backend(cfg.generate)
    good = ["generate.model=m", "generate.engine_args={enforce_eager: true, dtype: bfloat16}"]
    backend = get_backend(load_config("vllm", good).generate)
    assert backend.engine_kwargs()["enforce_eager"] is True
    assert backend.engine_kwargs()["dtype"] == "bfloat16"
