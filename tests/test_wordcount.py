"""Word count (R7, D9): the baseline's semantics for any str, on every path; the R7 gate.

The oracle is written here, independently of both implementations: the original
mapper, character by character (``if c.isalpha(): word = word + c.lower()``), over
``text.split()``. The optimized processor must equal it - as a dict and in key order
(first occurrence) - on the inline path, the pooled path, and both with the text cut
into many tiny ranges and pieces (module knobs patched in the parent; the piece size
travels to the workers as a task argument).

The gate runs on both implementations; the baseline runs inside a time budget
(:mod:`tests.budget`) and fails by measurement instead of hanging. Speed against the
single-process count and the workers' peak memory are measured by the asv suite
(``benchmarks/bench_wordcount.py``), the project's one timing engine.
"""
from __future__ import annotations

import pickle
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimized import data as optimized_data
from optimized.call import Call
from optimized.ops import wordcount
from optimized.shm import SharedArray
from tests.budget import run_within
from tests.conftest import refuse_dispatch

REPEATS = 5
ALL_CODE_POINTS = range(sys.maxunicode + 1)


def baseline_mapper(text: str) -> dict[str, int]:
    """The original ``map_reduce_word_count_mapper``, written out (quadratic on purpose)."""
    counts: dict[str, int] = {}
    for token in text.split():
        word = ""
        for c in token:
            if c.isalpha():
                word = word + c.lower()
        if word:
            if word in counts:
                counts[word] = counts[word] + 1
            else:
                counts[word] = 1
    return counts


def assert_same_counts(got: Any, text: str) -> None:
    want = baseline_mapper(text)
    assert type(got) is dict
    assert got == want
    assert list(got) == list(want), "keys must come in order of first occurrence"
    assert all(type(v) is int for v in got.values())


# -- what str.split() and the cleaning really do (facts the implementation relies on) ----
def test_str_split_splits_exactly_where_isspace_is_true() -> None:
    wrong = [hex(cp) for cp in ALL_CODE_POINTS
             if (len(("a" + chr(cp) + "b").split()) == 2) != chr(cp).isspace()]
    assert wrong == []
    assert all(c.isspace() for c in "\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000")


def test_whitespace_table_covers_the_whole_code_space(optimized_only) -> None:
    everywhere = tuple(c for c in map(chr, ALL_CODE_POINTS) if c.isspace())
    assert everywhere == wordcount.WHITESPACE  # none outside the BMP scan


def test_str_cut_pattern_is_exactly_isspace(optimized_only) -> None:
    pattern = wordcount._SPACE_STR
    wrong = [hex(cp) for cp in ALL_CODE_POINTS
             if (pattern.fullmatch(chr(cp)) is not None) != chr(cp).isspace()]
    assert wrong == []


def test_utf8_cut_pattern_finds_whitespace_only_at_character_starts(optimized_only) -> None:
    pattern = wordcount._SPACE_UTF8
    wrong = []
    for cp in ALL_CODE_POINTS:
        c = chr(cp)
        enc = c.encode("utf-8", "surrogatepass")
        m = pattern.search(enc)
        ok = (m is not None and m.span() == (0, len(enc))) if c.isspace() else m is None
        if not ok:
            wrong.append(hex(cp))
    assert wrong == []


def test_clean_word_equals_the_per_character_rule_for_every_code_point(optimized_only) -> None:
    wrong = [hex(cp) for cp in ALL_CODE_POINTS
             if wordcount.clean_word(chr(cp)) != (chr(cp).lower() if chr(cp).isalpha() else "")]
    assert wrong == []
    ascii_all = "".join(map(chr, range(128)))
    assert wordcount.clean_word(ascii_all) == "".join(c.lower() for c in ascii_all if c.isalpha())


@pytest.mark.parametrize("token, want", [
    ("İstanbul", "i\u0307stanbul"),   # 'İ'.lower() is two code points; the dot is kept
    ("ΟΔΟΣ", "οδοσ"),                  # per character: no final sigma (str.lower gives 'οδος')
    ("Straße!", "straße"), ("ﬁne", "ﬁne"), ("x1y2", "xy"), ("...", ""), ("ǅemal", "ǆemal"),
])
def test_clean_word_known_tricky_tokens(optimized_only, token: str, want: str) -> None:
    assert wordcount.clean_word(token) == want == "".join(c.lower() for c in token if c.isalpha())


# -- equivalence on every path ------------------------------------------------------------
VARIANTS = ["inline", "inline-small-pieces", "pool", "pool-small-ranges"]


@pytest.fixture(scope="module", params=VARIANTS)
def count(request, module_processor, impl) -> Callable[..., dict[str, int]]:
    """``count(text, **kw)`` on one forced path; ``-small-*`` cut the text very finely."""
    if impl != "optimized":  # module scope: cannot use the function-scoped optimized_only
        pytest.skip("forced execution paths exist only in the optimized processor")
    variant = request.param
    p = module_processor(2, 0.0, execution=variant.split("-")[0])

    def run(text: Any, **kw: Any) -> dict[str, int]:
        if "small" not in variant:
            return p.map_reduce_word_count(text, **kw)
        with pytest.MonkeyPatch.context() as mp:  # parent-side knobs, for this call only
            mp.setattr(wordcount, "_PIECE_CHARS", 3)
            mp.setattr(wordcount, "_MIN_TASK_BYTES", 1)
            mp.setattr(wordcount, "_TASKS_PER_WORKER", 8)
            return p.map_reduce_word_count(text, **kw)

    run.processor = p  # type: ignore[attr-defined]  # tests read these off the function
    run.variant = variant  # type: ignore[attr-defined]  # (a function attribute, untyped)
    return run


TRICKY = ["İ", "ß", "ﬁ", "\u0130", "Σ", "ς", "ǅ", "ª", "ʰ", "\u0345", "ᾈ", "Å", "Ω", "ŉ",
          "\x1c", "\x1d", "\x1e", "\x1f", "\u2028", "\u2029", "\u3000", "\x85", "\xa0",
          "\u1680", "\u200a", "\u202f", "\u205f", " ", "\t", "\n", "\r", "\x0b", "\x0c",
          "\u200b", "\ufeff", "0", "7", "٣", "½", "_", "-", "'", ".", ",", "!", "A", "z",
          "\ud800", "\udfff", "\U0001F600", "\U00020000", "é", "\u0301"]
chars = st.one_of(st.characters(), st.sampled_from(TRICKY), st.sampled_from(TRICKY))
texts = st.text(alphabet=chars, max_size=300)
# Longer texts: a hypothesis text repeated, so a pooled call is cut into many ranges.
long_texts = st.tuples(texts, st.integers(1, 60)).map(lambda t: t[0] * t[1])
word_texts = st.lists(st.tuples(st.text(alphabet=chars, min_size=1, max_size=8),
                                st.sampled_from(wordcount.WHITESPACE + ("  ", " \u3000 "))),
                      max_size=200).map(lambda ws: "".join(w + s for w, s in ws))


@given(text=texts)
@settings(max_examples=120, deadline=None)
def test_any_text_matches_the_baseline_mapper(count, text) -> None:
    assert_same_counts(count(text), text)


@given(text=st.one_of(long_texts, word_texts))
@settings(max_examples=60, deadline=None)
def test_long_and_wordy_texts_match_the_baseline_mapper(count, text) -> None:
    assert_same_counts(count(text), text)


@pytest.mark.parametrize("text", [
    "", " ", "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2028\u2029\u3000" * 50,
    "... --- 123 !!! 4.5", "word", " word ", "İİ İ\u3000ΟΔΟΣ ΟΔΟΣ", "\ud800abc\udfff def",
    "日本語のテキスト\u3000です" * 1000, "a\u3000" * 5000, "x" * 100_000,
    "The the THE tHe, the. 'the' (the)\nthe\x1cthe\x1fthe",
])
def test_fixed_texts(count, text) -> None:
    assert_same_counts(count(text), text)


@pytest.mark.parametrize("n", [1, 13, 14, 15, 1000, 30_000])
def test_generated_texts(count, n) -> None:
    text = optimized_data.generate_test_text(n)
    assert_same_counts(count(text), text)


def test_empty_and_whitespace_only_give_an_empty_dict(count) -> None:
    for text in ["", " ", "\n\t \u3000\x1c", " " * 10_000]:
        got = count(text)
        assert got == {} and type(got) is dict


def test_small_ranges_really_cut_the_text_into_many_tasks(optimized_only, make_processor,
                                                          monkeypatch) -> None:
    p = make_processor(2, 0.0, execution="pool")
    monkeypatch.setattr(wordcount, "_MIN_TASK_BYTES", 1)
    monkeypatch.setattr(wordcount, "_TASKS_PER_WORKER", 8)
    text = optimized_data.generate_test_text(500)
    assert_same_counts(p.map_reduce_word_count(text), text)
    m = p.last_metrics
    assert m.path == "pool" and m.tasks == 16 and m.items == 500  # 2 workers x 8 per worker


@pytest.mark.parametrize("execution", ["inline", "pool", "auto"])
def test_known_answer_at_the_gate_size(optimized_only, make_processor, workloads,
                                       execution) -> None:
    g = workloads.gate("R7")
    p = make_processor(2, 0.0, execution=execution)
    got = p.map_reduce_word_count(optimized_data.generate_test_text(g.size))
    assert got == dict(workloads.known_answers["word_count_1000000"])
    assert type(got) is dict and p.last_metrics.items == g.size
    if execution != "auto":
        assert p.last_metrics.path == execution


def test_single_process_reference_agrees(optimized_only, workloads) -> None:
    text = optimized_data.generate_test_text(1_000_000)
    assert wordcount.count_words_single_process(text) == dict(
        workloads.known_answers["word_count_1000000"])
    with pytest.raises(TypeError, match="text must be a str"):
        wordcount.count_words_single_process(b"bytes")


def test_auto_takes_the_inline_path_for_small_texts(optimized_only, make_processor) -> None:
    p = make_processor(2, 0.0)
    text = optimized_data.generate_test_text(1000)
    assert_same_counts(p.map_reduce_word_count(text), text)
    assert p.last_metrics.path == "inline" and p.last_metrics.items == 1000


# -- bad input (D2) --------------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((None,), {}, TypeError, "text must be a str, got NoneType"),
    ((b"the quick fox",), {}, TypeError, "text must be a str, got bytes"),
    ((["the", "fox"],), {}, TypeError, "text must be a str, got list"),
    ((42,), {}, TypeError, "text must be a str, got int"),
    (("the fox",), {"chunk_size": 0}, ValueError, "chunk_size must be >= 1"),
    (("the fox",), {"chunk_size": -3}, ValueError, "chunk_size must be >= 1"),
    (("the fox",), {"chunk_size": 2.5}, TypeError, "chunk_size must be an int"),
    (("the fox",), {"chunk_size": True}, TypeError, "chunk_size must be an int"),
    ((None,), {"chunk_size": 0}, TypeError, "text must be a str"),  # text is checked first
])
def test_bad_input_is_rejected_before_dispatch(count, monkeypatch, args, kwargs, exc,
                                               match) -> None:
    dispatched = refuse_dispatch(monkeypatch, count.processor)
    # the inline path dispatches nothing: refuse its counting too
    monkeypatch.setattr(wordcount, "_count_str", lambda *a, **k: dispatched.append("_count_str"))
    with pytest.raises(exc, match=match):
        count(*args, **kwargs)
    assert dispatched == []  # validation raised before any work started (D2)


def test_chunk_size_is_accepted_and_does_not_change_the_result(count) -> None:
    text = optimized_data.generate_test_text(2000) + "İ ΟΔΟΣ"
    for size in (1, 7, 100, 10**9):
        assert_same_counts(count(text, chunk_size=size), text)


# -- transfer and memory (R7: the text is not copied once per worker) -----------------------
def test_the_text_crosses_to_the_workers_once_through_shared_memory(
        optimized_only, make_processor, monkeypatch) -> None:
    """Spy on what the parent dispatches: tasks carry indices, one segment holds the text."""
    p = make_processor(4, 0.0, execution="pool")
    text = optimized_data.generate_test_text(1_000_000) + "İstanbul\u3000ΟΔΟΣ "
    nbytes = len(text.encode("utf-8"))
    dispatched: list[tuple[Any, ...]] = []
    segments: list[tuple[int, ...]] = []
    run, init = Call.run, SharedArray.__init__

    def spy_run(self, fn, tasks, *a, **k):
        dispatched.extend(tasks)
        return run(self, fn, tasks, *a, **k)

    def spy_init(self, shape, dtype):
        segments.append(tuple(shape))
        init(self, shape, dtype)

    monkeypatch.setattr(Call, "run", spy_run)
    monkeypatch.setattr(SharedArray, "__init__", spy_init)
    assert_same_counts(p.map_reduce_word_count(text), text)
    sizes = [len(pickle.dumps(t)) for t in dispatched]
    assert 1 < len(dispatched) <= 4 * wordcount._TASKS_PER_WORKER
    assert max(sizes) < 1024, f"a task carries {max(sizes)} bytes: the text travelled in it"
    assert segments == [(nbytes,)]  # exactly one copy of the text, shared by every worker
    spans = [(t[1], t[2]) for t in dispatched]
    assert spans[0][0] == 0 and spans[-1][1] == nbytes
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))  # contiguous, no overlap


# -- failure contract (D11) on the pooled path ------------------------------------------------
def test_timeout_kills_the_busy_workers_and_the_processor_works_after(optimized_only,
                                                                       make_processor) -> None:
    p = make_processor(2, 0.0, execution="pool")
    # 900,000 distinct non-ASCII tokens: ~0.05 s to prepare (encode, copy), over 2 s of
    # cleaning CPU in the workers - so the deadline expires while the tasks run.
    text = " ".join(f"Ä{i}ö{i}ü" for i in range(900_000))
    pids = p.worker_pids()
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match="timeout=0.3"):
        p.map_reduce_word_count(text, timeout=0.3)
    assert time.perf_counter() - t0 < 5
    assert p.worker_pids() != pids  # the busy workers were killed, a fresh pool started
    small = "Ä1ö1ü Ä2ö2ü the THE"
    assert_same_counts(p.map_reduce_word_count(small, timeout=30), small)
    assert p.last_metrics.path == "pool"


def test_timeout_spent_before_dispatch_raises_and_leaves_nothing(optimized_only,
                                                                  make_processor) -> None:
    p = make_processor(2, 0.0, execution="pool")
    text = optimized_data.generate_test_text(2_000_000)
    with pytest.raises(TimeoutError, match="timeout=1e-05"):
        p.map_reduce_word_count(text, timeout=1e-5)
    assert_same_counts(p.map_reduce_word_count("the The x", timeout=30), "the The x")
    # no_leaks (conftest) checks that the text's shared-memory segment is gone


# -- the R7 gate (both implementations) -------------------------------------------------------
def _median_seconds(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


@pytest.mark.gate
def test_gate_R7_one_million_words_under_2s(make_processor, impl, workloads) -> None:
    g = workloads.gate("R7")
    p = make_processor(g.workers, workloads.workloads[g.workload])
    text = optimized_data.generate_test_text(g.size)
    want = dict(workloads.known_answers["word_count_1000000"])
    if impl == "optimized":
        p.map_reduce_word_count(text)  # warm: first call after construction
        secs, got = _median_seconds(p.map_reduce_word_count, text)
    else:
        budget = 3 * g.limit
        res = run_within(p.map_reduce_word_count, (text,), budget)
        assert res.finished, (f"R7: {g.size:,} words did not finish within {budget:g} s "
                              f"(limit {g.limit:g} s)")
        assert res.error is None, f"R7: the call failed:\n{res.error}"
        secs, got = res.seconds, res.result
    assert got == want, "R7: wrong word counts"
    assert secs < g.limit, f"R7: {g.size:,} words took {secs:.3f} s (limit {g.limit:g} s)"
