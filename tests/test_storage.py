"""WORK and OUT as URLs: where paths resolve to, and the generation cache on an object store."""

from pathlib import Path

import fsspec
import pytest
from test_llm_server import llm_config

from docgen.core.errors import DocgenError
from docgen.core.storage import is_local, location
from docgen.generate import gencache
from docgen.generate.gencache import GenerationCache
from docgen.run.pipeline import run_pipeline


def test_local_paths_stay_paths_and_urls_get_their_filesystem(tmp_path, s3_bucket):
    assert location("data/work") == Path("data/work") and is_local(location("data/work"))
    assert location(f"file://{tmp_path}") == tmp_path
    remote = location(f"{s3_bucket}/work")
    assert not is_local(remote) and remote.fs.protocol[0] in ("s3", "s3a")
    assert str(remote / "pages") == f"{s3_bucket}/work/pages"
    with pytest.raises(DocgenError, match="nosuchproto://x"):
        location("nosuchproto://x/work")


def test_cache_on_an_object_store_is_written_in_batches(s3_bucket):
    folder = f"{s3_bucket}/cache-batches"
    cache = GenerationCache(folder)
    n = gencache.FLUSH_EVERY + 6
    for i in range(n):
        cache.put("p1" if i % 2 else "p2", f"k{i}", {"text": str(i)})
    # The first FLUSH_EVERY answers are stored already; the rest wait for flush().
    stored = lambda: sum(len(GenerationCache(folder)._load(p)) for p in ("p1", "p2"))  # noqa: E731
    assert stored() == gencache.FLUSH_EVERY
    cache.flush()
    assert stored() == n
    assert GenerationCache(folder).get("p1", "k1") == {"key": "k1", "text": "1"}


def test_generation_on_s3_work_resumes_from_its_cache(
    few_samples, tmp_path, s3_bucket, server_factory
):
    server = server_factory()
    work = f"{s3_bucket}/llm/work"
    cfg = llm_config(few_samples, tmp_path, [server.url], f"work={work}")
    first = run_pipeline(cfg)
    assert server.requests > 0 and first["stages"]["generate"]["pairs"] > 0
    fs = fsspec.filesystem("s3")
    assert fs.glob(f"{work}/cache/generate/part-*.*.jsonl")  # written as batches
    fs.rm(f"{work}/qa", recursive=True)  # generate's outputs lost, its cache kept
    again_server = server_factory()
    cfg.generate.base_urls = [again_server.url]
    again = run_pipeline(cfg)
    assert again_server.requests == 0
    assert again["stages"]["generate"]["pairs"] == first["stages"]["generate"]["pairs"]


def test_an_unwritable_work_dir_fails_before_any_work(tmp_path, s3_bucket, monkeypatch):
    import s3fs

    from docgen.core.storage import check_writable

    check_writable(f"{s3_bucket}/fine")  # reachable: no error
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DocgenError, match="cannot write to .*a-file/work"):
        check_writable(str(tmp_path / "a-file" / "work"))
    # A store that cannot be reached: one line, not a traceback after the first partition.
    monkeypatch.setitem(fsspec.config.conf["s3"], "endpoint_url", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        with pytest.raises(DocgenError, match="cannot write to s3://docgen-test/work: .*Connect"):
            check_writable(f"{s3_bucket}/work")
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
