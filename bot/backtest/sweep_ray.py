"""The Ray side of `mmbot sweep`: connect, ship code and data, run the points, collect results.

Nothing assumes a disk shared with the workers. The event files go into Ray's object store once
(ray.put of their bytes) and every point's task receives references to them; the project's own
packages travel with the job (runtime_env py_modules), so a worker needs only the dependencies
installed, and runs the driver's version of the code; each point's report files come back in its
result. A point that raises, or whose worker dies, is a row with its error: the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.backtest.sweep_point import run_point

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "connectors", "amm", "strategies")
AUTH_HINT = (
    "a cluster with token authentication refuses a driver without its token: run the sweep with "
    "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH=<token file> (or RAY_AUTH_TOKEN=<token>) set"
)


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message says which."""


@dataclass(frozen=True, slots=True)
class PointTask:
    """What one point's task needs: its config and, per replay venue, the key of its file."""

    index: int
    data: dict[str, Any]
    files: dict[str, str]  # venue -> key in `blobs` (the driver's resolved path)


@dataclass(slots=True)
class RayPlan:
    """Where and how wide: an existing cluster (`address`) or a local one; `workers` caps the points
    in flight when given (else the cluster's CPUs); `resources` are custom resources each point
    asks for, which pins points to the nodes that offer them."""

    address: str | None = None
    workers: int | None = None
    resources: dict[str, float] = field(default_factory=dict)


def runtime_env() -> dict[str, Any]:
    """The project's packages shipped with the job (bytecode caches left behind)."""
    return {
        "py_modules": [str(ROOT / name) for name in PACKAGES],
        "excludes": ["__pycache__", "*.pyc"],
    }


def _remote_point(
    data: dict[str, Any], refs: dict[str, Any], sources: dict[str, str]
) -> dict[str, Any]:  # pragma: no cover - runs in a Ray worker
    import ray

    # References nested in a dict are not resolved by Ray: fetch the bytes here, on the worker.
    blobs = {venue: ray.get(ref) for venue, ref in refs.items()}
    result = run_point(data, blobs, sources)
    result["node_id"] = ray.get_runtime_context().get_node_id()
    return result


def run_on_ray(
    tasks: list[PointTask],
    blobs: dict[str, bytes],
    plan: RayPlan,
    on_result: Callable[[int, dict[str, Any]], None],
    log: Callable[[str], None],
) -> None:
    """Run every task; `on_result(index, result)` as each finishes (results are not kept here, so
    report files are written and dropped one point at a time)."""
    try:
        import ray
        from ray.exceptions import RayError
    except ImportError:
        raise RayUnavailable("mmbot sweep needs Ray: pip install -e '.[sweep]' (this checkout)") from None
    _connect(ray, plan)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        limit = plan.workers or max(cpus, 1)
        log(f"{len(tasks)} points on Ray ({cpus} CPUs in the cluster), at most {limit} at once")
        refs = {key: ray.put(blob) for key, blob in blobs.items()}
        blobs.clear()  # the object store holds them now
        options: dict[str, Any] = {"num_cpus": 1}
        if plan.resources:
            options["resources"] = plan.resources
        task = ray.remote(**options)(_remote_point)
        for index, outcome in _run_bounded(ray, task, tasks, refs, limit):
            if isinstance(outcome, RayError):  # the worker died, the code did not import, ...
                outcome = {"error": _ray_error_line(outcome), "traceback": str(outcome)}
            on_result(index, outcome)
    finally:
        ray.shutdown()


def _ray_error_line(exc: Exception) -> str:
    """One line for the table: a task error's cause (its own first line is Ray's task banner)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _run_bounded(
    ray: Any, task: Any, tasks: list[PointTask], refs: dict[str, Any], limit: int
) -> Iterator[tuple[int, Any]]:
    """(index, result or the RayError raised for it) as tasks finish, at most `limit` in flight."""
    todo = list(tasks)
    pending: dict[Any, int] = {}
    while todo or pending:
        while todo and len(pending) < limit:
            t = todo.pop(0)
            point_refs = {venue: refs[key] for venue, key in t.files.items()}
            pending[task.remote(t.data, point_refs, dict(t.files))] = t.index
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            index = pending.pop(ref)
            try:
                yield index, ray.get(ref)
            except ray.exceptions.RayError as exc:
                yield index, exc


def _connect(ray: Any, plan: RayPlan) -> None:
    init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    init["runtime_env"] = runtime_env()
    if plan.address:
        init["address"] = plan.address
    elif plan.workers:
        init["num_cpus"] = plan.workers
    # AuthenticationError: a driver told to use a token that has none (Ray >= 2.5x; older: absent)
    refused = (ConnectionError, getattr(ray.exceptions, "AuthenticationError", ConnectionError))
    try:
        ray.init(**init)
    except refused as exc:
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        raise RayUnavailable(
            f"cannot connect to Ray at {plan.address}: {exc} (RAY_AUTH_MODE {mode}); {AUTH_HINT}"
        ) from None
