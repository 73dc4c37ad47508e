"""Kill one Dask worker during ``parallel_find_primes`` on a CLI cluster, many times over.

Usage: ``python -m tests.children.cluster_kill RUNS [LIMIT]`` (default LIMIT 10**9).

Each run starts ``dask scheduler`` and two ``dask worker --no-nanny`` processes (each in
a process group of its own), connects a processor, calls ``parallel_find_primes(LIMIT)``
and SIGKILLs one worker at a random moment 0.3-2 s into the call. The bar: the complete
and correct result, ``WorkerCrashedError`` or ``ConnectionError``; never a wrong or
short result, another exception, or a hang (each call has a 120 s timeout). Prints one
JSON line per run (a test cluster that did not start is counted as such, not as an
outcome of the call), then a summary line. A diagnostic tool, not a test: a run takes ~10 s.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

import distributed

from optimized import OptimizedParallelProcessor, WorkerCrashedError

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")
#: pi(10**9) and the first primes: a short or wrong list is caught by either.
PI = {10**8: 5_761_455, 10**9: 50_847_534}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(scratch: str) -> tuple[str, list[subprocess.Popen[bytes]]]:
    port = _port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_TEMPORARY_DIRECTORY": scratch}
    quiet = {"env": env, "cwd": scratch, "stdout": subprocess.DEVNULL,
             "stderr": subprocess.DEVNULL, "start_new_session": True}
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], **quiet)]  # type: ignore[call-overload]
    for _ in range(2):
        procs.append(subprocess.Popen(  # type: ignore[call-overload]
            [str(DASK), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
             "--local-directory", scratch], **quiet))
    with distributed.Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=30)


def one_run(rng: random.Random, limit: int) -> dict[str, object]:
    """One cluster, one call, one kill: what happened."""
    with tempfile.TemporaryDirectory() as scratch:
        address, procs = _start(scratch)
        try:
            with distributed.Client(address, set_as_default=False) as client:
                workers = sorted(client.run(os.getpid).values())
                victim = rng.choice(workers)
                delay = rng.uniform(0.3, 2.0)
                p = OptimizedParallelProcessor(scheduler=client, execution="pool")
                timer = threading.Timer(delay, os.kill, (victim, signal.SIGKILL))
                t0 = time.monotonic()
                timer.start()
                try:
                    got = p.parallel_find_primes(limit, timeout=120)
                except (WorkerCrashedError, ConnectionError) as exc:
                    outcome, detail = type(exc).__name__, str(exc)[:300]
                except BaseException as exc:  # noqa: BLE001 - what this tool looks for
                    outcome = f"OTHER {type(exc).__module__}.{type(exc).__name__}"
                    detail = "".join(traceback.format_exception(exc))[-3000:]
                else:
                    ok = len(got) == PI.get(limit, len(got)) and got[:5] == [2, 3, 5, 7, 11]
                    outcome = "correct" if ok else "WRONG"
                    detail = f"{len(got)} primes"
                finally:
                    timer.join()
                seconds = time.monotonic() - t0
                p.close()
        finally:
            _stop(procs)
    return {"outcome": outcome, "seconds": round(seconds, 2), "kill_at_s": round(delay, 2),
            "detail": detail}


def main() -> None:
    runs = int(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 10**9
    rng = random.Random(2026)
    tally: Counter[str] = Counter()
    for i in range(runs):
        try:
            row = one_run(rng, limit)
        except OSError as exc:  # the test cluster itself did not start (a port taken...)
            row = {"outcome": "cluster did not start", "detail": str(exc)[:300]}
        tally[str(row["outcome"])] += 1
        print(json.dumps({"run": i, **row}), flush=True)
    print(json.dumps({"summary": dict(tally), "runs": runs, "limit": limit}), flush=True)


if __name__ == "__main__":
    main()
