"""Drop-in compatibility (R8): the original's public surface exists with the same parameters."""
from __future__ import annotations

import inspect
import multiprocessing as mp

import pytest

from baseline import UnoptimizedParallelProcessor
from optimized import OptimizedParallelProcessor

#: Every public method of the original is kept (R8; the JSON file helpers too, D3).
REMOVED: set[str] = set()


def _public(cls: type) -> dict[str, object]:
    return {n: m for n, m in inspect.getmembers(cls, callable) if not n.startswith("_")}


@pytest.fixture(autouse=True)
def _optimized_only(impl: str) -> None:
    if impl != "optimized":
        pytest.skip("compares the optimized processor with the baseline")


@pytest.mark.parametrize("name", sorted(set(_public(UnoptimizedParallelProcessor)) - REMOVED))
def test_every_original_method_exists_with_the_same_parameters(name: str) -> None:
    assert name in _public(OptimizedParallelProcessor), f"{name} is missing"
    old = inspect.signature(getattr(UnoptimizedParallelProcessor, name)).parameters
    new = inspect.signature(getattr(OptimizedParallelProcessor, name)).parameters
    old_pos = [p for p in old.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    new_pos = [p for p in new.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in new_pos[:len(old_pos)]] == [p.name for p in old_pos], name
    for p in old_pos:  # a default may be added (optional is compatible), never changed
        if p.default is not p.empty:
            assert new[p.name].default == p.default, f"{name}({p.name}=...) default changed"
    extra = [p for p in new_pos[len(old_pos):] if p.default is p.empty]
    assert not extra, f"{name} requires new positional parameters {extra}"


def test_the_original_attributes_exist() -> None:
    with OptimizedParallelProcessor(2) as p:
        assert p.num_workers == 2 and p.results == [] and hasattr(p.lock, "acquire")
        assert p.temp_files == []  # the original's, for serialize_to_file (D3)


@pytest.mark.parametrize("start, end", [(0, 100), (10, 50), (-5, 3), (97, 98), (50, 10), (2, 3)])
def test_find_primes_worker_matches_the_original(processor, start: int, end: int) -> None:
    q = mp.get_context("fork").Queue()
    want = UnoptimizedParallelProcessor(2, 0.0).find_primes_worker(start, end, q)
    q2 = mp.get_context("fork").Queue()
    assert processor.find_primes_worker(start, end, q2) == want
    assert q2.get(timeout=5) == want  # also put on the queue, as the original did


@pytest.mark.parametrize("text", ["the The THE! fox", "", "  ", "İx ß  a\x1cb ﬁ ΟΔΟΣ"])
def test_mapper_matches_the_original(processor, text: str) -> None:
    assert processor.map_reduce_word_count_mapper(text) == \
        UnoptimizedParallelProcessor(2, 0.0).map_reduce_word_count_mapper(text)


def _public_methods() -> list[str]:
    return sorted(name for name, member in vars(OptimizedParallelProcessor).items()
                  if callable(member) and not name.startswith("_"))


@pytest.mark.parametrize("name", _public_methods())
def test_public_methods_have_complete_numpydoc_docstrings(name: str) -> None:
    doc = inspect.getdoc(getattr(OptimizedParallelProcessor, name)) or ""
    assert "{{" not in doc, f"{name}: a shared docstring piece was not filled in"
    params = [p for p in inspect.signature(getattr(OptimizedParallelProcessor, name)).parameters
              if p != "self"]
    if params:  # every parameter documented under Parameters
        assert "Parameters\n----------" in doc, f"{name}: no Parameters section"
        section = doc.split("Parameters\n----------", 1)[1]
        missing = [p for p in params if p not in section]
        assert not missing, f"{name}: parameters not documented: {missing}"


def test_the_json_file_helpers_round_trip_and_close_removes_their_files(tmp_path) -> None:
    p = OptimizedParallelProcessor(1, execution="inline")
    target = tmp_path / "chunk.json"  # (closed below by cleanup())
    p.serialize_to_file([1, 2.5, "x"], str(target))
    assert p.deserialize_from_file(str(target)) == [1, 2.5, "x"]
    assert p.temp_files == [str(target)]
    with pytest.raises(TypeError):  # not JSON: nothing is written
        p.serialize_to_file({1, 2}, str(tmp_path / "set.json"))
    assert not (tmp_path / "set.json").exists()
    with pytest.raises(TypeError, match="filename must be a str or path"):
        p.deserialize_from_file(3)
    p.cleanup()  # the original's cleanup() removes what serialize_to_file wrote
    assert not target.exists() and p.temp_files == []
