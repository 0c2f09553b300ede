"""The sandbox's cache of botocore's parsed data files (chaosthundra.sandbox.model_cache)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import botocore
from botocore.loaders import JSONFileLoader

from chaosthundra.sandbox.credentials import session
from chaosthundra.sandbox.model_cache import CachedFileLoader

LAMBDA_MODEL = str(Path(botocore.__file__).parent / "data" / "lambda" / "2015-03-31" / "service-2")


def _same(a: object, b: object) -> bool:
    """Equal, in the same order (botocore's loader gives OrderedDicts, the cache dicts)."""
    return json.dumps(a) == json.dumps(b)


def test_a_model_reads_the_same_parsed_then_cached(tmp_path: Path) -> None:
    botocores = JSONFileLoader().load_file(LAMBDA_MODEL)
    loader = CachedFileLoader(tmp_path)
    parsed = loader.load_file(LAMBDA_MODEL)
    assert [p.suffix for p in tmp_path.iterdir()] == [".marshal"]
    cached = CachedFileLoader(tmp_path).load_file(LAMBDA_MODEL)
    assert _same(parsed, botocores)
    assert _same(cached, botocores)
    assert loader.load_file(str(tmp_path / "no-such-model")) is None


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    model = data / "model.json"
    model.write_text('{"version": 1}')
    loader = CachedFileLoader(tmp_path / "cache")
    assert loader.load_file(str(data / "model")) == {"version": 1}
    model.write_text('{"version": 22}')
    os.utime(model, ns=(1, 1))  # another size and time stamp: another key
    assert loader.load_file(str(data / "model")) == {"version": 22}


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    assert _same(
        CachedFileLoader(blocked).load_file(LAMBDA_MODEL), JSONFileLoader().load_file(LAMBDA_MODEL)
    )


def test_a_damaged_entry_is_parsed_again(tmp_path: Path) -> None:
    loader = CachedFileLoader(tmp_path)
    loader.load_file(LAMBDA_MODEL)
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(b"\x00not marshal")
    assert _same(loader.load_file(LAMBDA_MODEL), JSONFileLoader().load_file(LAMBDA_MODEL))


def test_the_sandbox_sessions_read_through_the_cache() -> None:
    loader = session("us-east-1")._session.get_component("data_loader")
    assert isinstance(loader.file_loader, CachedFileLoader)
