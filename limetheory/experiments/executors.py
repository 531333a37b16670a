"""Where an experiment's units run: in this process, or as tasks on a Dask cluster.

Both executors take the same inputs (an experiment module's name, its settings, the units to
compute) and yield the same outcomes, one per unit as it completes: ``(index, frame, error)``,
with ``frame`` the unit's tidy rows (a DataFrame) or ``error`` a one-line description of why it
failed (on Dask; in process a failing unit raises). The runner stores each frame atomically as it
arrives (on the client: no shared file system is assumed) and reports the errors; the units that
failed are computed again by the next run, and only they.

On Dask every unit is one task, a pure function of (module, settings, unit). The heavy context
(``setup(settings)``: networks, images) is built once per worker process and kept there for the
following units of the same experiment and settings; BLAS runs one thread per worker, as in
process. Each unit's seed is part of the unit, so a unit computes the same rows wherever it runs:
the stored results equal the in-process ones bit for bit.
"""
from __future__ import annotations

import importlib
import logging
import json
import os
import socket
from contextlib import contextmanager
from typing import Iterator, NamedTuple

import pandas as pd

from ..validation import check_int

__all__ = ["UnitOutcome", "UnitsFailed", "InProcess", "OnDask", "check_executor_arguments", "executor"]

#: Local Dask workers allowed per CPU of this machine (more processes than that only compete).
WORKERS_PER_CPU = 4

#: Seconds to wait for a Dask scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 5.0


class UnitOutcome(NamedTuple):
    """One unit's result: its index in the list given, its rows, or the error that stopped it."""

    index: int
    frame: pd.DataFrame | None
    error: str | None


class UnitsFailed(RuntimeError):
    """Some units of an experiment failed on Dask; the others were stored. ``errors``: label -> error."""

    def __init__(self, name: str, errors: dict):
        self.errors = dict(errors)
        lines = "; ".join(f"{label}: {err}" for label, err in self.errors.items())
        super().__init__(f"{len(self.errors)} unit(s) of {name} failed (the others are stored; a rerun "
                         f"computes only what is missing): {lines}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _checked_frame(module_name: str, frame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{module_name}.run_unit must return a pandas DataFrame, got {type(frame).__name__}")
    return frame


class InProcess:
    """Run the units one after the other in this process, ``context()`` built once when there is work.

    A unit that raises stops the run there (the exception propagates): the units finished before it
    are stored, and the next run starts from them.
    """

    def run(self, module_name: str, settings: dict, units: list, context=None) -> Iterator[UnitOutcome]:
        mod = importlib.import_module(module_name)
        ctx = context() if units else None
        for i, unit in enumerate(units):
            yield UnitOutcome(i, _checked_frame(module_name, mod.run_unit(unit, ctx)), None)


# --------------------------------------------------------------------------- worker side
#: Contexts built on this worker process: (module, settings as canonical JSON) -> context.
_CONTEXTS: dict = {}


def _worker_context(module_name: str, settings_json: str):
    key = (module_name, settings_json)
    if key not in _CONTEXTS:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # one BLAS thread per worker process, as in process
        mod = importlib.import_module(module_name)
        _CONTEXTS.clear()  # one experiment at a time: free the previous one's networks
        _CONTEXTS[key] = mod.setup(json.loads(settings_json))
    return _CONTEXTS[key]


def run_unit_task(module_name: str, settings_json: str, unit: dict) -> pd.DataFrame:
    """The Dask task of one unit: the experiment's ``run_unit`` with this worker's context."""
    mod = importlib.import_module(module_name)
    context = _worker_context(module_name, settings_json)
    return _checked_frame(module_name, mod.run_unit(unit, context))


# --------------------------------------------------------------------------- client side
class OnDask:
    """Run the units as tasks on a ``dask.distributed`` client; outcomes in order of completion.

    A unit that raises is reported as an outcome with its error and the others go on; a worker
    process that dies is replaced and its units are run elsewhere (Dask's own retries).
    """

    def __init__(self, client):
        self.client = client

    def _ship(self, module_name: str) -> None:
        """Make a module that lives outside the installed package importable on the workers."""
        mod = importlib.import_module(module_name)
        if not module_name.startswith("limetheory.") and getattr(mod, "__file__", None):
            self.client.upload_file(mod.__file__)

    def run(self, module_name: str, settings: dict, units: list, context=None) -> Iterator[UnitOutcome]:
        from distributed import as_completed

        if not units:
            return
        self._ship(module_name)
        settings_json = json.dumps(settings, sort_keys=True)
        futures = {
            self.client.submit(run_unit_task, module_name, settings_json, unit, pure=False): i
            for i, unit in enumerate(units)
        }
        for future in as_completed(futures, loop=self.client.loop):
            i = futures[future]
            try:
                frame = future.result()
            except Exception as exc:
                yield UnitOutcome(i, None, _describe(exc))
            else:
                yield UnitOutcome(i, frame, None)
            future.release()


def max_workers() -> int:
    """The most local Dask workers allowed: ``WORKERS_PER_CPU`` per CPU of this machine."""
    return WORKERS_PER_CPU * (os.cpu_count() or 1)


def _host_port(scheduler: str) -> tuple[str, int]:
    """(host, port) of a ``[tcp://]host:port`` address; ValueError naming ``scheduler`` otherwise."""
    rest = scheduler.strip()
    protocol, sep, tail = rest.partition("://")
    if sep:
        if protocol not in ("tcp", "tls"):
            raise ValueError(f"scheduler must be a tcp:// or tls:// address host:port, got {scheduler!r}")
        rest = tail
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"scheduler must be an address host:port (port 1..65535), e.g. tcp://127.0.0.1:8786, "
                         f"got {scheduler!r}")
    return host, int(port)


def check_executor_arguments(workers=None, scheduler=None, *, connect: bool = True) -> tuple:
    """Check ``workers`` / ``scheduler`` before any work; return them (workers as an int).

    ``workers``: None or an int in 1..:func:`max_workers` (bools refused). ``scheduler``: None or a
    ``[tcp://|tls://]host:port`` string; with ``connect=True`` the scheduler must accept a TCP
    connection within ``CONNECT_TIMEOUT_S`` seconds. Not both.

    Raises
    ------
    TypeError, ValueError
        Naming the argument, in one line.
    """
    if workers is not None and scheduler is not None:
        raise ValueError("give workers or scheduler, not both")
    if workers is not None:
        workers = check_int(workers, "workers", 1)
        if workers > max_workers():
            raise ValueError(f"workers must be <= {max_workers()} ({WORKERS_PER_CPU} per CPU of this machine), "
                             f"got {workers}")
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address string host:port, got {type(scheduler).__name__} "
                            f"{scheduler!r}")
        host, port = _host_port(scheduler)
        if connect:
            try:
                socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
                _dask_handshake(scheduler, CONNECT_TIMEOUT_S)
            except Exception as exc:  # refused, silent, or something that does not speak Dask's protocol
                reason = ("no answer" if isinstance(exc, TimeoutError) else
                          exc.strerror if isinstance(exc, OSError) and exc.strerror else
                          f"not a Dask scheduler: {type(exc).__name__}")
                raise ValueError(f"scheduler {scheduler!r} cannot be reached within {CONNECT_TIMEOUT_S:g} s "
                                 f"({reason}): is a Dask scheduler running there?") from None
    return workers, scheduler


def _dask_handshake(address: str, timeout: float) -> None:
    """Open and close one Dask comm to ``address`` (the protocol's handshake, not just TCP) within
    ``timeout`` seconds. It runs in a daemon thread of its own (so it works under a running event
    loop too), which is abandoned if the peer never answers: TimeoutError then."""
    import asyncio
    import threading

    from distributed.comm import connect

    outcome: list = []

    async def probe():
        comm = await connect(address, timeout=timeout)
        await comm.close()

    def target():
        try:
            asyncio.run(asyncio.wait_for(probe(), timeout))
            outcome.append(None)
        except BaseException as exc:  # reported to the caller below
            outcome.append(exc)

    thread = threading.Thread(target=target, name="limetheory-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not outcome:
        raise TimeoutError(f"no answer within {timeout:g} s")
    if outcome[0] is not None:
        raise outcome[0]


@contextmanager
def executor(workers: int | None = None, scheduler: str | None = None):
    """The executor for ``--workers N`` / ``--scheduler ADDRESS`` (neither: in this process).

    ``workers``: a ``LocalCluster`` of N worker processes with one thread each, closed on exit.
    ``scheduler``: an existing Dask scheduler (``dask scheduler`` / ``dask worker``, or any Dask
    deployment); the client disconnects on exit and leaves the cluster running.
    """
    workers, scheduler = check_executor_arguments(workers, scheduler)
    if workers is None and scheduler is None:
        yield InProcess()
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the [dask] extra is not installed
        raise RuntimeError("running on Dask needs the dask extra: pip install 'limetheory[dask]'") from exc
    if scheduler is not None:
        with Client(scheduler, set_as_default=False) as client:
            yield OnDask(client)
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster, set_as_default=False) as client:
        yield OnDask(client)

