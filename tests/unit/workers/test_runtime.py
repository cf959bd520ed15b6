"""Variables across the engine: big values spill to the artifact store, run ids per round,
branch outcomes in every form the diagram writes them."""

from pathlib import Path

from shared.artifacts import ArtifactStore
from workers.runtime import SPILL_CHARS, branch_outcome, run_id_of, spill, unspill


def test_big_structured_values_spill_and_come_back(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    big = {"body": "x" * (SPILL_CHARS + 10)}
    out = spill(store, "run1", {"pr": big, "small": {"a": 1}, "text": "y" * 5000})
    assert set(out["pr"]) == {"$artifact"}
    assert out["small"] == {"a": 1}
    assert out["text"] == "y" * 5000, "plain strings are the stage's business"
    assert unspill(store, out)["pr"] == big


def test_run_id_is_the_instance_and_a_rerun_round_gets_its_own() -> None:
    assert run_id_of({}, "pi") == "pi"
    assert run_id_of({"reviewRound": 1}, "pi") == "pi"
    assert run_id_of({"reviewRound": 3}, "pi") == "pi-r3"
    assert run_id_of({"reviewRunId": "given"}, "pi") == "given"


def test_branch_outcomes_in_every_form() -> None:
    assert branch_outcome({}, "astOutcome").status == "failed"
    ok = branch_outcome({"astOutcome": {"status": "ok", "items": 2}}, "astOutcome")
    assert ok.status == "ok" and ok.items == 2
    # the diagram's timeout mark is JSON text; the attempts come from the attempt counter
    timeout = branch_outcome(
        {"prReviewOutcome": '{"status":"timeout"}', "prReviewAttempt": 3}, "prReviewOutcome"
    )
    assert timeout.status == "timeout" and timeout.error == "no result after 2 attempt(s)"
    assert branch_outcome({"fileReviewOutcome": "timeout"}, "fileReviewOutcome").status == (
        "timeout"
    )
