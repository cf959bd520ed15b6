"""TEST ONLY: ``reviewflow worker`` with fault hooks, for the fault suite (bench/reliability.py,
tests/integration/test_reliability.py). Nothing in the product imports this module; the hooks
exist only in a process started as ``python -m tests.support.fault_worker light|heavy|all``.

Hooks, from the environment (all off when unset):

- ``REVIEWFLOW_FAULT_HOLD``: JSON ``{"<target repository>": "<topic>", ...}``. The handler of
  that topic, for that review's instance, runs its body (side effects done, nothing reported
  yet) and then holds the task, keeping its lock alive, until the process is killed. For a
  heavy branch the hold is in the background work of the first attempt, after the work and
  before its result is correlated; ``dispatch:<topic>`` holds the heavy dispatch task itself,
  before it is completed. Each hold appends ``<repository>\\t<topic>`` to
  ``REVIEWFLOW_FAULT_MARKERS`` so the suite knows when to SIGKILL this process.
- ``REVIEWFLOW_FAULT_SLOW_MS``: every handler waits this long first (reviews then span long
  enough for an engine restart to land mid-review).
"""

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reviewflow.engine.port import EnginePort, ExternalTask
from shared.models import BranchOutcome
from workers.heavy import ROUTER_FACTORIES
from workers.heavy.runtime import BranchRun, HeavyRuntime
from workers.light import ROUTERS
from workers.runtime import Handler, Router, StageContext, TaskSpec, Variables, current_settings

HOLD_SECONDS = 600.0


def _holds() -> dict[str, str]:
    raw = os.environ.get("REVIEWFLOW_FAULT_HOLD", "")
    return dict(json.loads(raw)) if raw else {}


def _mark(repository: str, topic: str) -> None:
    path = os.environ.get("REVIEWFLOW_FAULT_MARKERS")
    if path:
        with Path(path).open("a") as out:
            out.write(f"{repository}\t{topic}\n")


def _repository(task: ExternalTask) -> str:
    try:
        return StageContext.from_task(task, current_settings()).target.repository
    except ValueError:
        return ""


def _wrap(spec: TaskSpec, holds: dict[str, str], slow_s: float) -> TaskSpec:
    inner: Handler = spec.handler

    async def handler(task: ExternalTask, engine: EnginePort) -> Variables | None:
        if slow_s:
            await asyncio.sleep(slow_s)
        if spec.kind == "heavy" and holds.get(_repository(task)) == f"dispatch:{task.topic}":
            # a dispatch task completes itself: hold it before that, while it is ours
            _mark(_repository(task), f"dispatch:{task.topic}")
            await asyncio.sleep(HOLD_SECONDS)
        result = await inner(task, engine)
        repository = _repository(task)
        if spec.kind == "light" and holds.get(repository) == task.topic:
            _mark(repository, task.topic)
            await asyncio.sleep(HOLD_SECONDS)
        return result

    return dataclasses.replace(spec, handler=handler)


def _wrap_factory(
    factory: Callable[[HeavyRuntime], Router], holds: dict[str, str], slow_s: float
) -> Callable[[HeavyRuntime], Router]:
    def build(runtime: HeavyRuntime) -> Router:
        router = factory(runtime)
        router.specs[:] = [_wrap(s, holds, 0.0) for s in router.specs]
        return router

    return build


def install() -> None:
    holds = _holds()
    slow_s = int(os.environ.get("REVIEWFLOW_FAULT_SLOW_MS", "0") or 0) / 1000
    for router in ROUTERS:
        router.specs[:] = [_wrap(s, holds, slow_s) for s in router.specs]
    for key, factory in list(ROUTER_FACTORIES.items()):
        ROUTER_FACTORIES[key] = _wrap_factory(factory, holds, slow_s)
    original_spawn = HeavyRuntime.spawn

    def spawn(self: HeavyRuntime, run: BranchRun) -> None:
        repository = run.ctx.target.repository
        if holds.get(repository) == run.branch.topic and run.attempt == 1:
            real = run.work

            async def held(c: StageContext, v: Variables, a: int) -> BranchOutcome:
                outcome = await real(c, v, a)
                _mark(repository, run.branch.topic)
                await asyncio.sleep(HOLD_SECONDS)
                return outcome

            run = dataclasses.replace(run, work=held)
        original_spawn(self, run)

    HeavyRuntime.spawn = spawn  # type: ignore[method-assign]


def main(argv: list[str]) -> Any:
    install()
    from reviewflow.cli import app

    return app(["worker", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
