"""The slow original parallel processor, re-created faithfully (anti-patterns and all).

:class:`UnoptimizedParallelProcessor` is the "before" picture of the harness: the
benchmarks and time gates run it side by side with the optimized processor. Its
slowness and its bugs are the point, so nothing here is to be optimised or fixed.

Anti-patterns kept on purpose
-----------------------------
* One ``Process`` per item, per result-matrix element, per 5-item chunk, per
  10-item file chunk, per 100-word text chunk and per batch: process creation
  (about 1-10 ms each) dwarfs the work it carries.
* Inter-process communication through JSON files in a temporary directory
  (``process_with_file_based_ipc``), and one queue ``put``/``get`` per item,
  with a lock taken around every single ``put``.
* Unbounded queues between pipeline stages, items passed one at a time, and a
  ``Manager`` proxy (a round trip to a server process) for every appended result.
* Pure-Python algorithms with poor complexity: bubble sort (O(n^2)), trial
  division by every integer from 2 to n-1, character-by-character and
  word-by-word string building with ``+`` (quadratic in the worst case),
  element-by-element dot products.
* No input validation at all: bad input fails wherever Python happens to fail,
  often inside a child process.

Latent defects kept on purpose (the harness exists to expose them)
------------------------------------------------------------------
1. **Completion order.** ``process_data_spawn_per_item`` and
   ``process_with_excessive_queue_ops`` return results in the order the
   children delivered them, not in input order. (``run_pipeline`` keeps input
   order only because each stage is a single process; the partial results of
   the other methods are put back by index or key, or are order-free.)
2. **Draining with ``Queue.empty()`` after ``join()``.** The Python docs call
   ``empty()`` unreliable. It works here only while every child has flushed
   its queue before exiting. Any result that is not in the pipe at that moment
   is silently dropped and the shortfall is never detected: a child that raised
   (its traceback goes to stderr, the parent carries on), a child killed by a
   signal, or a queue worker whose bare ``except`` turned a ``get(timeout=1)``
   timeout (e.g. on a heavily loaded machine) into an early exit, leaving items
   unprocessed.
3. **Join-before-drain deadlock.** A child that ``put`` data on a
   ``multiprocessing.Queue`` cannot exit until its feeder thread has written it
   all into the pipe. The parent joins every child before reading anything, so
   once the unread payload exceeds the pipe buffer (64 KiB on Linux) the child
   waits for the parent and the parent waits for the child, forever. The
   children share one pipe, so it is the total unread payload that counts.
   Measured on Linux / CPython 3.11: ``process_with_excessive_queue_ops`` hangs
   at 3,000 items (2,000 pass), ``process_data_spawn_per_item`` at 5,000 items,
   ``parallel_find_primes(250_000)`` (about 22,000 primes, about 100 KB
   pickled) hangs once the children finish (50,000 passes); in principle every
   queue-draining method hangs for large enough inputs.
4. **Fork only.** Bound methods and a nested closure are used as ``Process``
   targets and objects are shared by inheritance, so only the ``fork`` start
   method works. Every ``Process``/``Queue``/``Lock``/``Manager`` is therefore
   created from ``multiprocessing.get_context("fork")`` explicitly, so the class
   behaves the same whatever the global default is (forkserver on Python 3.14).
   It cannot run on Windows, and fork in a multi-threaded parent may deadlock
   (CPython warns about this from 3.12).
5. **Shared lock can be orphaned.** ``self.lock`` is held by children around
   queue puts, file writes, list appends and counter bumps; a child killed while
   holding it leaves it held, and the next call on the same processor hangs.
6. **Failures are swallowed or surface late.** Nothing checks child exit codes.
   Exceptions in children print a traceback and lose the child's result;
   ``process_with_file_based_ipc`` then fails with ``FileNotFoundError``,
   ``batch_process_with_manager`` with ``KeyError``, the others return short
   results. A failed file-IPC run leaves its temporary files behind (only
   :meth:`UnoptimizedParallelProcessor.cleanup` removes them).
7. **Unbounded fan-out.** The number of simultaneous processes equals the
   number of items / elements / chunks, limited only by the OS (``ulimit -u``,
   memory); ``num_workers`` is ignored by most methods.

Only deviation from a literal reading of the original: in
``parallel_find_primes`` every range is clipped to ``[0, limit)``, so that with
fewer numbers than workers the 1-wide ranges of the first workers cannot run
past ``limit`` and report primes that are not below it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.context import ForkContext
from multiprocessing.queues import Queue as MPQueue
from typing import Any

__all__ = ["UnoptimizedParallelProcessor", "FORK_CONTEXT"]

#: The only start method the original works with (see defect 4).
FORK_CONTEXT: ForkContext = multiprocessing.get_context("fork")

Number = int | float


class UnoptimizedParallelProcessor:
    """The original slow parallel processor (fork only), defects included.

    Every method starts its own short-lived processes; nothing is pooled or
    reused, and ``num_workers`` is only used by
    :meth:`process_with_excessive_queue_ops` and :meth:`parallel_find_primes`.

    Known defects, kept on purpose (details in the module docstring):

    1. results of :meth:`process_data_spawn_per_item` and
       :meth:`process_with_excessive_queue_ops` come in completion order;
    2. queues are drained with ``empty()`` after ``join()``, so results that a
       failed, killed or timed-out child did not deliver are silently lost;
    3. the parent joins before draining, so a child whose queued payload exceeds
       the pipe buffer (64 KiB) deadlocks with it (e.g. primes for large limits);
    4. fork start method only (closures and bound methods as targets);
    5. a child killed while holding :attr:`lock` hangs every later call;
    6. child exceptions are swallowed (short results, or ``KeyError`` /
       ``FileNotFoundError`` later) and failed file-IPC runs leak temp files;
    7. one process per item / element / chunk, without any upper bound.

    Parameters
    ----------
    num_workers : int, default 4
        Worker count for the methods that use one. Not validated.
    item_latency_s : float, default 0.001
        Simulated per-item latency slept by :meth:`process_single_item`
        (the original slept 1 ms). ``0`` skips the sleep call. Not validated.

    Attributes
    ----------
    num_workers : int
        As given.
    item_latency_s : float
        As given.
    results : list
        Kept for compatibility with the original's public surface; no method
        writes to it.
    lock : multiprocessing.synchronize.Lock
        A fork-context lock shared (by inheritance) with every child.
    temp_files : list of str
        Files written by :meth:`serialize_to_file` and not yet deleted.
    """

    def __init__(self, num_workers: int = 4, item_latency_s: float = 0.001) -> None:
        self.num_workers = num_workers
        self.item_latency_s = item_latency_s
        self.results: list[Any] = []
        self.lock = FORK_CONTEXT.Lock()
        self.temp_files: list[str] = []
        # Temporary directories made by process_with_file_based_ipc and not yet
        # removed (only non-empty after a failed run); cleanup() removes them.
        self._temp_dirs: list[str] = []

    # ------------------------------------------------------------------ #
    # Per-item work
    # ------------------------------------------------------------------ #
    def process_single_item(self, item: Number) -> float:
        """Compute ``item*item + sin(item)*cos(item)`` after the simulated latency.

        Parameters
        ----------
        item : int or float
            The input value.

        Returns
        -------
        float
            ``item * item + math.sin(item) * math.cos(item)``.
        """
        if self.item_latency_s:
            time.sleep(self.item_latency_s)
        return item * item + math.sin(item) * math.cos(item)

    def _spawn_item_worker(self, item: Number, queue: MPQueue) -> None:
        queue.put(self.process_single_item(item))

    def process_data_spawn_per_item(self, data: Sequence[Number]) -> list[float]:
        """Process every item in its own freshly started process.

        One ``Process`` per item puts its result on a shared queue; the parent
        joins all of them, then drains the queue with ``while not q.empty()``.

        Parameters
        ----------
        data : sequence of int or float
            Items to process.

        Returns
        -------
        list of float
            :meth:`process_single_item` of every item, in completion order
            (not input order); results not delivered are silently missing.
            Deadlocks beyond a few thousand items (pipe buffer, defect 3).
        """
        results = []
        queue = FORK_CONTEXT.Queue()
        processes = []
        for item in data:
            p = FORK_CONTEXT.Process(target=self._spawn_item_worker, args=(item, queue))
            p.start()
            processes.append(p)
        for p in processes:
            p.join()
        while not queue.empty():
            results.append(queue.get())
        return results

    # ------------------------------------------------------------------ #
    # File-based IPC
    # ------------------------------------------------------------------ #
    def serialize_to_file(self, data: Any, filename: str) -> None:
        """Write ``data`` as JSON to ``filename`` and record it in :attr:`temp_files`.

        Parameters
        ----------
        data : JSON-serialisable object
            What to write.
        filename : str
            Destination path.
        """
        with open(filename, "w") as f:
            json.dump(data, f)
        self.temp_files.append(filename)

    def deserialize_from_file(self, filename: str) -> Any:
        """Read one JSON document back from ``filename``.

        Parameters
        ----------
        filename : str
            Source path.

        Returns
        -------
        object
            The decoded JSON value.
        """
        with open(filename) as f:
            return json.load(f)

    def _file_chunk_worker(self, input_file: str, output_file: str) -> None:
        chunk = self.deserialize_from_file(input_file)
        chunk_results = []
        for item in chunk:
            chunk_results.append(self.process_single_item(item))
        with self.lock:
            with open(output_file, "w") as f:
                json.dump(chunk_results, f)

    def process_with_file_based_ipc(
        self, data: Sequence[Number], chunk_size: int = 10
    ) -> list[float]:
        """Process ``data`` in chunks that travel to and from children as JSON files.

        Each chunk of ``chunk_size`` items is written to an input file in a fresh
        temporary directory; one ``Process`` per chunk reads it, computes every
        item and writes an output file while holding :attr:`lock`. The parent
        reads the outputs in chunk order, then deletes the files and the directory.

        Parameters
        ----------
        data : sequence of int or float
            Items to process.
        chunk_size : int, default 10
            Items per chunk (and per process).

        Returns
        -------
        list of float
            :meth:`process_single_item` of every item, in input order.

        Raises
        ------
        FileNotFoundError
            If a child failed and wrote no output; its files are left behind
            for :meth:`cleanup`.
        """
        temp_dir = tempfile.mkdtemp(prefix="baseline_ipc_")
        self._temp_dirs.append(temp_dir)
        chunks = []
        for i in range(0, len(data), chunk_size):
            chunks.append(list(data[i : i + chunk_size]))

        input_files = []
        output_files = []
        processes = []
        for idx, chunk in enumerate(chunks):
            input_file = os.path.join(temp_dir, f"input_{idx}.json")
            output_file = os.path.join(temp_dir, f"output_{idx}.json")
            self.serialize_to_file(chunk, input_file)
            input_files.append(input_file)
            output_files.append(output_file)
            p = FORK_CONTEXT.Process(
                target=self._file_chunk_worker, args=(input_file, output_file)
            )
            p.start()
            processes.append(p)
        for p in processes:
            p.join()

        results = []
        for output_file in output_files:
            chunk_results = self.deserialize_from_file(output_file)
            for value in chunk_results:
                results.append(value)

        for filename in input_files + output_files:
            os.remove(filename)
            if filename in self.temp_files:
                self.temp_files.remove(filename)
        os.rmdir(temp_dir)
        self._temp_dirs.remove(temp_dir)
        return results

    # ------------------------------------------------------------------ #
    # Per-item queue traffic
    # ------------------------------------------------------------------ #
    def _queue_worker(self, input_queue: MPQueue, output_queue: MPQueue) -> None:
        while True:
            try:
                item = input_queue.get(timeout=1)
                if item is None:
                    break
                result = self.process_single_item(item)
                with self.lock:
                    output_queue.put(result)
            except:  # noqa: E722 - the original's bare except, kept on purpose
                break

    def process_with_excessive_queue_ops(self, data: Sequence[Number]) -> list[float]:
        """Process ``data`` with ``num_workers`` processes fed one item per queue op.

        Every item is put on an input queue one at a time, followed by
        ``num_workers`` ``None`` sentinels. Each worker ``get(timeout=1)``-s
        items one by one and puts each result on the output queue while holding
        :attr:`lock`; any exception (including the timeout) silently ends the
        worker. The parent joins the workers, then drains with ``empty()``.

        Parameters
        ----------
        data : sequence of int or float
            Items to process.

        Returns
        -------
        list of float
            :meth:`process_single_item` of every item, in completion order;
            results not delivered are silently missing. Deadlocks once the
            results exceed the pipe buffer (about 3,000 items; defect 3).
        """
        input_queue = FORK_CONTEXT.Queue()
        output_queue = FORK_CONTEXT.Queue()
        for item in data:
            input_queue.put(item)
        for _ in range(self.num_workers):
            input_queue.put(None)

        workers = []
        for _ in range(self.num_workers):
            p = FORK_CONTEXT.Process(
                target=self._queue_worker, args=(input_queue, output_queue)
            )
            p.start()
            workers.append(p)
        for p in workers:
            p.join()

        results = []
        while not output_queue.empty():
            results.append(output_queue.get())
        return results

    # ------------------------------------------------------------------ #
    # Statistics
    # ------------------------------------------------------------------ #
    def compute_statistics_sequential(self, data: Sequence[Number]) -> dict[str, float]:
        """Mean, population variance and median with hand-written loops.

        The median comes from a bubble sort of a copy of ``data`` (O(n^2)).

        Parameters
        ----------
        data : sequence of int or float
            The sample. Empty data fails with ``ZeroDivisionError``.

        Returns
        -------
        dict
            ``{"mean": ..., "variance": ..., "median": ...}``; the variance is
            the population variance (divided by ``n``).
        """
        n = len(data)
        total: Number = 0
        for x in data:
            total = total + x
        mean = total / n

        squared_diffs: Number = 0
        for x in data:
            squared_diffs = squared_diffs + (x - mean) * (x - mean)
        variance = squared_diffs / n

        sorted_data = []
        for x in data:
            sorted_data.append(x)
        for i in range(len(sorted_data)):
            for j in range(len(sorted_data) - 1 - i):
                if sorted_data[j] > sorted_data[j + 1]:
                    tmp = sorted_data[j]
                    sorted_data[j] = sorted_data[j + 1]
                    sorted_data[j + 1] = tmp
        if n % 2 == 0:
            median = (sorted_data[n // 2 - 1] + sorted_data[n // 2]) / 2
        else:
            median = sorted_data[n // 2]

        return {"mean": mean, "variance": variance, "median": median}

    # ------------------------------------------------------------------ #
    # Parallel sum
    # ------------------------------------------------------------------ #
    def _partial_sum_worker(self, chunk: list[Number], queue: MPQueue) -> None:
        partial: Number = 0
        for x in chunk:
            partial = partial + x
        queue.put(partial)

    def parallel_sum_spawn_many(self, data: Sequence[Number], chunk_size: int = 5) -> Number:
        """Sum ``data`` with one process per ``chunk_size``-item chunk.

        Each child puts its partial sum on a queue; after joining, the parent
        drains the queue and adds the partial sums in a loop.

        Parameters
        ----------
        data : sequence of int or float
            Values to add.
        chunk_size : int, default 5
            Items per chunk (and per process).

        Returns
        -------
        int or float
            The sum (``0`` for empty data); partial sums not delivered are
            silently missing.
        """
        queue = FORK_CONTEXT.Queue()
        processes = []
        for i in range(0, len(data), chunk_size):
            chunk = list(data[i : i + chunk_size])
            p = FORK_CONTEXT.Process(target=self._partial_sum_worker, args=(chunk, queue))
            p.start()
            processes.append(p)
        for p in processes:
            p.join()

        total = 0
        while not queue.empty():
            total = total + queue.get()
        return total

    # ------------------------------------------------------------------ #
    # Matrix multiplication
    # ------------------------------------------------------------------ #
    def _matrix_element_worker(
        self,
        A: Sequence[Sequence[Number]],
        B: Sequence[Sequence[Number]],
        i: int,
        j: int,
        queue: MPQueue,
    ) -> None:
        value: Number = 0
        for k in range(len(B)):
            value = value + A[i][k] * B[k][j]
        queue.put((i, j, value))

    def parallel_matrix_multiply(
        self, A: Sequence[Sequence[Number]], B: Sequence[Sequence[Number]]
    ) -> list[list[Number]]:
        """Multiply two list-of-lists matrices with one process per result element.

        Parameters
        ----------
        A : sequence of sequences of int or float
            Left matrix, ``n x m``.
        B : sequence of sequences of int or float
            Right matrix, ``m x p``.

        Returns
        -------
        list of list
            The ``n x p`` product; an element whose child did not deliver stays 0.
        """
        rows = len(A)
        cols = len(B[0]) if rows else 0
        result: list[list[Number]] = []
        for _i in range(rows):
            row: list[Number] = []
            for _j in range(cols):
                row.append(0)
            result.append(row)

        queue = FORK_CONTEXT.Queue()
        processes = []
        for i in range(rows):
            for j in range(cols):
                p = FORK_CONTEXT.Process(
                    target=self._matrix_element_worker, args=(A, B, i, j, queue)
                )
                p.start()
                processes.append(p)
        for p in processes:
            p.join()

        while not queue.empty():
            i, j, value = queue.get()
            result[i][j] = value
        return result

    # ------------------------------------------------------------------ #
    # Map-reduce word count
    # ------------------------------------------------------------------ #
    def map_reduce_word_count_mapper(
        self, chunk: str, queue: MPQueue | None = None
    ) -> dict[str, int]:
        """Count the words of one chunk of text (the map step).

        Each whitespace-separated token is reduced to its lowercase alphabetic
        form character by character (``if c.isalpha(): w = w + c.lower()``);
        non-empty forms are counted in a dict.

        Parameters
        ----------
        chunk : str
            A piece of text.
        queue : multiprocessing.Queue, optional
            Where to put the dict (as the original did when run as a process).

        Returns
        -------
        dict of str to int
            Word counts of the chunk.
        """
        counts: dict[str, int] = {}
        for token in chunk.split():
            word = ""
            for c in token:
                if c.isalpha():
                    word = word + c.lower()
            if word:
                if word in counts:
                    counts[word] = counts[word] + 1
                else:
                    counts[word] = 1
        if queue is not None:
            queue.put(counts)
        return counts

    def map_reduce_word_count(self, text: str, chunk_size: int = 100) -> dict[str, int]:
        """Count words with one mapper process per ``chunk_size``-word chunk.

        The text is split into words and chunk strings are rebuilt by
        concatenation (``chunk + " " + word``); one ``Process`` per chunk runs
        :meth:`map_reduce_word_count_mapper`; the parent merges the partial
        dicts in a loop.

        Parameters
        ----------
        text : str
            The text.
        chunk_size : int, default 100
            Words per chunk (and per process).

        Returns
        -------
        dict of str to int
            ``{word: count}``; partial counts not delivered are silently missing.
        """
        words = text.split()
        chunks = []
        chunk = ""
        in_chunk = 0
        for word in words:
            chunk = chunk + " " + word
            in_chunk = in_chunk + 1
            if in_chunk == chunk_size:
                chunks.append(chunk)
                chunk = ""
                in_chunk = 0
        if in_chunk:
            chunks.append(chunk)

        queue = FORK_CONTEXT.Queue()
        processes = []
        for chunk in chunks:
            p = FORK_CONTEXT.Process(
                target=self.map_reduce_word_count_mapper, args=(chunk, queue)
            )
            p.start()
            processes.append(p)
        for p in processes:
            p.join()

        final_counts: dict[str, int] = {}
        while not queue.empty():
            partial = queue.get()
            for word, count in partial.items():
                if word in final_counts:
                    final_counts[word] = final_counts[word] + count
                else:
                    final_counts[word] = count
        return final_counts

    # ------------------------------------------------------------------ #
    # Primes
    # ------------------------------------------------------------------ #
    def find_primes_worker(self, start: int, end: int, queue: MPQueue) -> list[int]:
        """Find the primes in ``[start, end)`` by trial division and put the list.

        Every candidate ``n >= 2`` is divided by every integer from 2 to
        ``n - 1`` (stopping at the first divisor).

        Parameters
        ----------
        start, end : int
            The half-open range to search.
        queue : multiprocessing.Queue
            Where the list of primes is put.

        Returns
        -------
        list of int
            The primes found, ascending (the same list that was put).
        """
        primes = []
        for n in range(start, end):
            if n < 2:
                continue
            is_prime = True
            for d in range(2, n):
                if n % d == 0:
                    is_prime = False
                    break
            if is_prime:
                primes.append(n)
        queue.put(primes)
        return primes

    def parallel_find_primes(self, limit: int) -> list[int]:
        """Find all primes below ``limit`` with ``num_workers`` trial-division processes.

        ``[0, limit)`` is cut into ``num_workers`` ranges of ``limit // num_workers``
        numbers (at least 1; the last range ends at ``limit``; ranges are clipped
        to ``[0, limit)``). Each range runs :meth:`find_primes_worker` in its own
        process; after joining, the lists are appended one number at a time and
        bubble-sorted.

        Parameters
        ----------
        limit : int
            Exclusive upper bound.

        Returns
        -------
        list of int
            The primes below ``limit``, ascending. Deadlocks for large limits
            (roughly 15,000 primes or more overflow the 64 KiB pipe; defect 3).
        """
        range_size = max(1, limit // self.num_workers)
        queue = FORK_CONTEXT.Queue()
        processes = []
        for w in range(self.num_workers):
            start = min(w * range_size, limit)
            if w == self.num_workers - 1:
                end = limit
            else:
                end = min(start + range_size, limit)
            p = FORK_CONTEXT.Process(target=self.find_primes_worker, args=(start, end, queue))
            p.start()
            processes.append(p)
        for p in processes:
            p.join()

        all_primes = []
        while not queue.empty():
            primes = queue.get()
            for prime in primes:
                all_primes.append(prime)

        for i in range(len(all_primes)):
            for j in range(len(all_primes) - 1 - i):
                if all_primes[j] > all_primes[j + 1]:
                    tmp = all_primes[j]
                    all_primes[j] = all_primes[j + 1]
                    all_primes[j + 1] = tmp
        return all_primes

    # ------------------------------------------------------------------ #
    # Pipeline
    # ------------------------------------------------------------------ #
    def _pipeline_stage1(self, data: Sequence[Number], out_queue: MPQueue) -> None:
        for item in data:
            out_queue.put(item * 2)
        out_queue.put(None)

    def _pipeline_stage2(self, in_queue: MPQueue, out_queue: MPQueue) -> None:
        while True:
            item = in_queue.get()
            if item is None:
                out_queue.put(None)
                break
            out_queue.put(item + 10)

    def _pipeline_stage3(self, in_queue: MPQueue, results: Any) -> None:
        while True:
            item = in_queue.get()
            if item is None:
                break
            with self.lock:
                results.append(item * item)

    def run_pipeline(self, data: Sequence[Number]) -> list[Number]:
        """Run a three-stage process pipeline, one item at a time.

        Stage 1 puts ``x * 2`` per item then ``None``; stage 2 puts ``x + 10``
        until ``None``, then forwards ``None``; stage 3 squares every item and
        appends it to a ``Manager().list()`` while holding :attr:`lock`. The
        stages talk over two unbounded queues; the parent joins all three and
        copies the list out. The manager is shut down before returning.

        Parameters
        ----------
        data : sequence of int or float
            Items to push through.

        Returns
        -------
        list
            ``(2 * x + 10) ** 2`` for every item.
        """
        queue1 = FORK_CONTEXT.Queue()
        queue2 = FORK_CONTEXT.Queue()
        with FORK_CONTEXT.Manager() as manager:
            shared_results = manager.list()
            stages = [
                FORK_CONTEXT.Process(target=self._pipeline_stage1, args=(data, queue1)),
                FORK_CONTEXT.Process(target=self._pipeline_stage2, args=(queue1, queue2)),
                FORK_CONTEXT.Process(
                    target=self._pipeline_stage3, args=(queue2, shared_results)
                ),
            ]
            for p in stages:
                p.start()
            for p in stages:
                p.join()
            results = []
            for value in shared_results:
                results.append(value)
        return results

    # ------------------------------------------------------------------ #
    # Batches through a Manager
    # ------------------------------------------------------------------ #
    def batch_process_with_manager(
        self, data_batches: Sequence[Sequence[Number]]
    ) -> list[float]:
        """Process every batch in its own process, sharing results through a Manager.

        A ``Manager`` dict collects each batch's results under its batch id and
        a ``Manager`` ``Value('i', 0)`` counts finished batches (bumped while
        holding :attr:`lock`). The process target is a nested closure, which is
        why only the fork start method works.

        Parameters
        ----------
        data_batches : sequence of sequences of int or float
            The batches.

        Returns
        -------
        list of float
            :meth:`process_single_item` of every item, batches concatenated in
            batch order. A batch whose process failed raises ``KeyError``.
        """
        with FORK_CONTEXT.Manager() as manager:
            results_dict = manager.dict()
            counter = manager.Value("i", 0)

            def process_batch(batch_id: int, batch: Sequence[Number]) -> None:
                batch_results = []
                for item in batch:
                    batch_results.append(self.process_single_item(item))
                results_dict[batch_id] = batch_results
                with self.lock:
                    counter.value = counter.value + 1

            processes = []
            for batch_id, batch in enumerate(data_batches):
                p = FORK_CONTEXT.Process(target=process_batch, args=(batch_id, batch))
                p.start()
                processes.append(p)
            for p in processes:
                p.join()

            final_results = []
            for batch_id in range(len(data_batches)):
                for value in results_dict[batch_id]:
                    final_results.append(value)
        return final_results

    # ------------------------------------------------------------------ #
    # Cleanup
    # ------------------------------------------------------------------ #
    def cleanup(self) -> None:
        """Remove every file still listed in :attr:`temp_files`.

        Also removes the temporary directories of failed
        :meth:`process_with_file_based_ipc` runs. Files that are already gone
        are ignored.
        """
        for filename in list(self.temp_files):
            if os.path.exists(filename):
                os.remove(filename)
            self.temp_files.remove(filename)
        for temp_dir in list(self._temp_dirs):
            shutil.rmtree(temp_dir, ignore_errors=True)
            self._temp_dirs.remove(temp_dir)
