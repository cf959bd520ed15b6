"""The heavy dispatch: complete first (with a per-attempt wait key), work in the background,
then correlate the result on that key; duplicates never work twice; stale results are
recorded, not retried."""

import asyncio
from typing import Any

from reviewflow.engine.port import TaskGone
from shared.contract import heavy_branch
from shared.events import EventLog
from shared.models import BranchOutcome
from tests.support.fake_engine import FakeEngine, make_task
from workers.heavy.runtime import HeavyRuntime, dispatch_router
from workers.runtime import StageContext, Variables, current_settings

BRANCH = heavy_branch("pr")
TARGET = {"provider": "local", "repository": "/tmp/repo", "base_ref": "main", "head_ref": "f"}


def dispatch_task(task_id: str = "d1", attempt: int = 1, instance: str = "pi-heavy") -> Any:
    return make_task(
        BRANCH.job_type,
        task_id,
        process_instance_id=instance,
        variables={"target": TARGET, BRANCH.attempt_variable: attempt},
    )


async def run_dispatch(engine: FakeEngine, runtime: HeavyRuntime, task: Any, work: Any) -> None:
    router = dispatch_router(runtime, BRANCH, work, ("config",))
    (spec,) = router.specs
    assert await spec.handler(task, engine) is None  # the handler completes the task itself
    await runtime.drain()


async def test_dispatch_completes_first_then_correlates_on_the_same_wait_key() -> None:
    engine = FakeEngine()
    runtime = HeavyRuntime(4)
    order: list[str] = []

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        order.append(f"work after {len(engine.of('complete'))} complete(s)")
        return BranchOutcome(status="ok", artifact="x/pr-review-2", items=3)

    await run_dispatch(engine, runtime, dispatch_task(attempt=2), work)
    (complete,) = engine.of("complete")
    wait_key = complete.args["variables"][BRANCH.wait_key_variable]
    assert wait_key.startswith("pi-heavy:pr:2:")
    assert order == ["work after 1 complete(s)"]
    (message,) = engine.of("correlate")
    assert message.args["message"] == BRANCH.message_name
    assert message.args["instance"] == "pi-heavy"
    assert message.args["keys"] == {BRANCH.wait_key_variable: wait_key}
    outcome = message.args["variables"][BRANCH.outcome_variable]
    assert outcome["status"] == "ok" and outcome["items"] == 3


async def test_a_duplicate_delivery_never_starts_the_work_twice() -> None:
    engine = FakeEngine()
    engine.gone.add("d-dup")
    runtime = HeavyRuntime(4)
    calls = 0

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        nonlocal calls
        calls += 1
        return BranchOutcome(status="ok")

    await run_dispatch(engine, runtime, dispatch_task("d-dup"), work)
    assert calls == 0 and not engine.of("correlate")


async def test_a_failure_travels_in_the_result() -> None:
    engine = FakeEngine()
    runtime = HeavyRuntime(4)

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        raise TimeoutError("the model did not answer")

    await run_dispatch(engine, runtime, dispatch_task(instance="pi-fail"), work)
    outcome = engine.of("correlate")[0].args["variables"][BRANCH.outcome_variable]
    assert outcome["status"] == "failed" and "the model did not answer" in outcome["error"]


async def test_a_result_nothing_waits_for_is_recorded_as_stale_once() -> None:
    engine = FakeEngine()
    engine.unmatched.add(BRANCH.message_name)
    runtime = HeavyRuntime(4)

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        return BranchOutcome(status="ok")

    await run_dispatch(engine, runtime, dispatch_task(instance="pi-stale"), work)
    assert len(engine.of("correlate")) == 1, "a stale result is not retried"
    events, _ = EventLog(current_settings().artifacts_dir, "pi-stale").read()
    assert [e.status for e in events if e.status == "stale"] == ["stale"]


async def test_branches_run_bounded() -> None:
    engine = FakeEngine()
    runtime = HeavyRuntime(2)
    running = 0
    peak = 0

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return BranchOutcome(status="ok")

    router = dispatch_router(runtime, BRANCH, work, ())
    (spec,) = router.specs
    for i in range(5):
        await spec.handler(dispatch_task(f"b{i}", instance=f"pi-b{i}"), engine)
    await runtime.drain()
    assert peak == 2 and len(engine.of("correlate")) == 5


async def test_a_complete_whose_answer_was_lost_still_starts_the_work() -> None:
    # the node committed the complete and died before answering; the call, failed over to
    # another node, finds the task gone: the instance holds our wait key, so the work is ours
    class LostAnswer(FakeEngine):
        async def complete(self, task: Any, variables: Variables) -> None:
            await super().complete(task, variables)
            raise TaskGone(f"task {task.id} does not exist", 404)

    engine = LostAnswer()
    runtime = HeavyRuntime(4)
    calls = 0

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        nonlocal calls
        calls += 1
        return BranchOutcome(status="ok")

    await run_dispatch(engine, runtime, dispatch_task("d-lost", instance="pi-lost"), work)
    assert calls == 1
    (message,) = engine.of("correlate")
    wait_key = engine.of("complete")[0].args["variables"][BRANCH.wait_key_variable]
    assert message.args["keys"] == {BRANCH.wait_key_variable: wait_key}
