"""The fault suite ("Nothing lost, nothing let in"): one command, a table of figures, a JSON file.

    REVIEWFLOW_STATE_DIR=/tmp/rf REVIEWFLOW_ENGINE_PORT=8099 \\
        .venv/bin/python bench/reliability.py [--quick] [--json out.json] [--only kill,llm]

Scenarios (tests/support/faults.py; the CI subset is tests/integration/test_reliability.py):

- kill: a worker process holding each of the 17 stages' tasks (a heavy stage: its dispatch
  task) and each heavy branch's work is SIGKILLed; a new worker finishes every review; each
  posts exactly what an undisturbed control review posted, once, and one verdict.
- restart: the engine's java process is SIGKILLed mid-review (several rounds, reviews at
  different stages), started again on the same state dir and H2 database; the worker rides
  through; every review completes once.
- llm: 429 with Retry-After, 5xx, timeouts, malformed and schema-invalid replies, a model
  that is down: each review recovered, or completed naming the gap; never lost.
- fuzz: the webhook ingress's hypothesis properties (real payload fixtures, mutated, and
  generated inputs): never a 5xx, never a start for an unsigned, forged, replayed or
  irrelevant delivery; RSS before and after.
- load: N reviews started at once against fast workers: 0 lost, 0 stuck, 0 incidents.
- secrets: after everything, no token, key or webhook secret in the engine's history
  variables, its H2 files and log, the artifacts and event logs, or the worker logs.

It uses the state dir's local engine (``reviewflow engine up``; started here if it is not
running, and then stopped at the end). It signals only processes it started.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reviewflow.engine.local import LocalEngine  # noqa: E402
from reviewflow.engine.operaton import OperatonEngine  # noqa: E402
from reviewflow.review import deploy  # noqa: E402
from tests.support import faults  # noqa: E402

SECTIONS = ("kill", "restart", "llm", "fuzz", "load", "secrets")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fuzz(examples: int) -> dict[str, Any]:
    """The ingress properties of tests/unit/reviewflow/test_webhook_fuzz.py, in this process,
    ``examples`` inputs each; RSS after a warm-up round and after the full run."""
    os.environ["REVIEWFLOW_FUZZ_EXAMPLES"] = str(examples)
    import importlib

    module = importlib.import_module("tests.unit.reviewflow.test_webhook_fuzz")
    properties = [
        module.test_signed_deliveries_never_fail_and_publish_only_valid_reviews,
        module.test_unsigned_or_forged_deliveries_are_401_and_publish_nothing,
        module.test_irrelevant_events_publish_nothing,
    ]
    with tempfile.TemporaryDirectory() as tmp:
        module.test_the_real_payloads_do_start_reviews_through_this_app(Path(tmp))
    # the app logs every rejected delivery: tens of thousands of lines; keep them out
    logging.disable(logging.WARNING)
    replay = replays(module)
    # before: the app imported and one real delivery served
    rss_before = rss_kb()
    began = time.monotonic()
    failures: list[str] = []
    rss_steps: list[int] = []
    # two rounds of every property: memory is flat when the second round adds ~nothing
    for _ in range(2):
        for prop in properties:
            try:
                prop()
            except Exception as exc:  # a property that failed: report it, go on
                failures.append(f"{prop.__name__}: {type(exc).__name__}: {str(exc)[:300]}")
        rss_steps.append(rss_kb())
    rss_after = rss_steps[-1]
    logging.disable(logging.NOTSET)
    return {
        "properties": len(properties),
        "examples_per_property": examples,
        "rounds": 2,
        "inputs": 2 * examples * len(properties),
        "payload_fixtures": len(module.PAYLOADS),
        "replay": replay,
        "published": len(module.RECORDER.published),
        "failures": failures,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "rss_growth_kb": rss_after - rss_before,
        "rss_after_round_kb": rss_steps,
        "rss_second_round_growth_kb": rss_steps[1] - rss_steps[0],
        "seconds": round(time.monotonic() - began, 1),
    }


def replays(module: Any) -> dict[str, int]:
    """Each real payload fixture, signed, delivered once, then replayed: the same delivery id
    twice more, and the same body under a new delivery id. Only a first delivery may start."""
    from starlette.testclient import TestClient

    from reviewflow.webhook import create_app
    from shared.delivery_ledger import SqliteDeliveryLedger
    from shared.ingress import signature

    recorder = module.Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        client = TestClient(
            create_app(module.SECRET, recorder, ledger=SqliteDeliveryLedger(Path(tmp) / "l"))
        )
        first = replayed = 0
        for path in sorted(module.FIXTURES.glob("*.json")):
            body = module.dumps(json.loads(path.read_text()))
            event = path.name.split(".")[0]
            delivery = str(uuid.uuid4())
            for attempt, delivery_id in enumerate(
                [delivery, delivery, delivery, str(uuid.uuid4())]
            ):
                before = len(recorder.published)
                response = client.post(
                    module.URL,
                    content=body,
                    headers={
                        "x-github-event": event,
                        "x-github-delivery": delivery_id,
                        "x-hub-signature-256": signature(module.SECRET, body),
                    },
                )
                assert response.status_code < 500, response.text
                started = len(recorder.published) - before
                if attempt == 0:
                    first += started
                else:
                    replayed += started
    return {"fixtures": len(module.PAYLOADS), "first_starts": first, "replay_starts": replayed}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    work = Path(tempfile.mkdtemp(prefix="rf-reliability-"))
    local = LocalEngine()
    started_engine = False
    if not local.status().healthy:
        local.up()
        started_engine = True
    engine = OperatonEngine(local.rest_url)
    await deploy(engine)
    out: dict[str, Any] = {"quick": args.quick, "work": str(work)}
    secrets = {
        "llm-api-key": f"sk-reliability-{uuid.uuid4().hex}",
        "github-token": f"ghp_reliability{uuid.uuid4().hex}",
        "webhook-secret": f"whsec-reliability-{uuid.uuid4().hex}",
    }
    # every worker process this suite starts carries the three secrets in its environment
    os.environ["REVIEWFLOW_GITHUB_TOKEN"] = secrets["github-token"]
    os.environ["SECRET_GITHUB_WEBHOOK_SECRET"] = secrets["webhook-secret"]
    began = time.monotonic()
    try:
        if "kill" in only:
            topics = faults.QUICK_KILL_TOPICS if args.quick else faults.KILL_TOPICS
            report = await faults.kill_points(engine, work / "kill", topics)
            out["kill"] = faults.as_json(report)
            _progress("kill", f"{report.passed - 1}/{len(topics)} kill points")
        if "restart" in only:
            rounds, per_round = (1, 3) if args.quick else (4, 4)
            restart = await faults.engine_restart(local, work / "restart", rounds, per_round)
            out["restart"] = faults.as_json(restart)
            _progress("restart", f"{restart.passed}/{len(restart.outcomes)}")
            await engine.aclose()
            engine = OperatonEngine(local.rest_url)
        if "llm" in only:
            cases = faults.QUICK_LLM_CASES if args.quick else faults.LLM_CASES
            llm = await faults.llm_faults(engine, work / "llm", cases, secrets["llm-api-key"])
            out["llm"] = [faults.as_json(c) for c in llm]
            _progress("llm", ", ".join(f"{c.name}: {c.outcome}" for c in llm))
        if "fuzz" in only:
            examples = 150 if args.quick else args.fuzz_examples
            out["fuzz"] = await asyncio.to_thread(fuzz, examples)
            _progress("fuzz", f"{out['fuzz']['inputs']} inputs")
        if "load" in only:
            count = 20 if args.quick else args.load
            load = await faults.load(engine, work / "load", count)
            out["load"] = faults.as_json(load)
            _progress("load", f"{load.completed}/{load.reviews}")
        if "secrets" in only:
            scan = await faults.secrets_scan(local.rest_url, secrets, local.engine_dir, [work])
            out["secrets"] = {**faults.as_json(scan), "found": scan.found}
    finally:
        await engine.aclose()
        if started_engine:
            local.down()
    out["seconds"] = round(time.monotonic() - began, 1)
    return out


def _progress(section: str, text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {section}: {text}", file=sys.stderr, flush=True)


def table(out: dict[str, Any]) -> str:
    rows = ["| check | result | figures |", "| --- | --- | --- |"]
    if "kill" in out:
        k = out["kill"]
        held = [o for o in k["outcomes"] if o["label"] != "control"]
        ok = sum(o["ok"] for o in held)
        rows.append(
            f"| worker SIGKILL at each stage / heavy branch | **{ok}/{len(held)}** completed, "
            f"comments and verdict once | kill {k['kill_after_first_hold_s']} s after the first "
            f"hold; all finished {k['recovery_s']} s after the kill (lock 3 s, heavyTimeout "
            f"30 s); wall {k['wall_s']} s |"
        )
    if "restart" in out:
        r = out["restart"]
        ok = sum(o["ok"] for o in r["outcomes"])
        stages = sorted({p.split(": ", 1)[1] for p in r["points"]})
        rows.append(
            f"| engine SIGKILL + restart (same H2) | **{ok}/{len(r['outcomes'])}** completed "
            f"once | {r['restarts']} restarts, outage {min(r['outage_s'])}-{max(r['outage_s'])}"
            f" s; {len(stages)} distinct points; wall {r['wall_s']} s |"
        )
    if "llm" in out:
        lost = sum(c["outcome"] == "lost" for c in out["llm"])
        cases = "; ".join(
            f"{c['name']}: {c['outcome']}" + (f" ({c['errors'][0][:60]})" if c["errors"] else "")
            for c in out["llm"]
        )
        rows.append(f"| LLM faults through the engine | **{lost} lost** | {cases} |")
    if "fuzz" in out:
        f = out["fuzz"]
        rows.append(
            f"| ingress fuzzing | **{len(f['failures'])} failures** (no 5xx, no bad start) | "
            f"{f['inputs']} generated inputs ({f['properties']} properties x "
            f"{f['examples_per_property']} x 2 rounds) + {f['payload_fixtures']} real payloads; "
            f"replays of each payload started {f['replay']['replay_starts']} reviews (first "
            f"deliveries {f['replay']['first_starts']}); RSS {f['rss_before_kb'] // 1024} MB "
            f"before, {f['rss_after_round_kb'][0] // 1024} after round 1, "
            f"{f['rss_after_round_kb'][1] // 1024} after round 2; {f['seconds']} s |"
        )
    if "load" in out:
        lo = out["load"]
        rows.append(
            f"| load: {lo['reviews']} reviews at once | **{lo['lost']} lost, {lo['stuck']} "
            f"stuck, {lo['incidents']} incidents**, {lo['duplicates']} duplicate comments, "
            f"{lo['gaps']} with a heavy branch not ok | "
            f"{lo['wall_s']} s, {lo['per_second']} reviews/s |"
        )
    if "secrets" in out:
        s = out["secrets"]
        places = ", ".join(f"{k}: {v}" for k, v in s["places"].items())
        rows.append(
            f"| secrets after the suite | **{s['found']} found** | {s['secrets']} secrets "
            f"searched in {places} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the CI subset")
    parser.add_argument("--only", default="", help=f"comma-separated of {','.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--load", type=int, default=200, help="reviews of the load run")
    parser.add_argument(
        "--fuzz-examples",
        type=int,
        default=1700,
        help="examples per fuzz property and round (3 properties, 2 rounds)",
    )
    args = parser.parse_args()
    out = asyncio.run(run(args))
    print(table(out))
    path = args.json or Path(out["work"]) / "reliability.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
