"""The delivery ledger: delivery ids and body digests recorded once, atomically, persisted."""

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest

from shared.delivery_ledger import (
    LEDGER_FILE_NAME,
    SqliteDeliveryLedger,
    body_digest,
    default_ledger_path,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / LEDGER_FILE_NAME


def test_a_new_delivery_is_recorded_and_repeats_are_seen(path: Path) -> None:
    ledger = SqliteDeliveryLedger(path)
    assert ledger.seen_or_record("d-1", body_digest(b"a")) is False
    assert ledger.seen_or_record("d-1", body_digest(b"a")) is True
    # the same id with another body, or the same body under another id: both repeats
    assert ledger.seen_or_record("d-1", body_digest(b"b")) is True
    assert ledger.seen_or_record("d-2", body_digest(b"a")) is True
    assert ledger.seen_or_record("d-3", body_digest(b"c")) is False


def test_a_repeat_records_nothing(path: Path) -> None:
    ledger = SqliteDeliveryLedger(path)
    ledger.seen_or_record("d-1", body_digest(b"a"))
    assert ledger.seen_or_record("d-1", body_digest(b"b")) is True
    # the refused pair left no trace: body b under a fresh id is new
    assert ledger.seen_or_record("d-2", body_digest(b"b")) is False


def test_records_persist_across_ledger_instances(path: Path) -> None:
    SqliteDeliveryLedger(path).seen_or_record("d-1", body_digest(b"a"))
    assert SqliteDeliveryLedger(path).seen_or_record("d-9", body_digest(b"a")) is True


def test_forget_undoes_a_record(path: Path) -> None:
    ledger = SqliteDeliveryLedger(path)
    ledger.seen_or_record("d-1", body_digest(b"a"))
    ledger.forget("d-1", body_digest(b"a"))
    assert ledger.seen_or_record("d-1", body_digest(b"a")) is False


def test_records_older_than_the_retention_are_pruned(path: Path) -> None:
    now = [1000.0]
    ledger = SqliteDeliveryLedger(path, retention_seconds=60, clock=lambda: now[0])
    ledger.seen_or_record("d-1", body_digest(b"a"))
    now[0] += 30
    assert ledger.seen_or_record("d-1", body_digest(b"a")) is True
    now[0] += 61
    assert ledger.seen_or_record("d-1", body_digest(b"a")) is False


def test_concurrent_recorders_on_one_file_agree_on_a_single_first(path: Path) -> None:
    """Twenty threads, each with its own ledger instance (as separate processes would have),
    race to record the same body under different ids: exactly one wins."""
    SqliteDeliveryLedger(path).seen_or_record("warm-up", body_digest(b"other"))
    barrier = threading.Barrier(20)
    results: list[bool] = []
    lock = threading.Lock()

    def record(index: int) -> None:
        ledger = SqliteDeliveryLedger(path)
        barrier.wait()
        seen = ledger.seen_or_record(f"d-{index}", body_digest(b"same body"))
        with lock:
            results.append(seen)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] + [True] * 19


def test_the_default_ledger_lives_in_the_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REVIEWFLOW_STATE_DIR", str(tmp_path / "st"))
    assert default_ledger_path() == tmp_path / "st" / LEDGER_FILE_NAME


def _record_in_process(path: Path, index: int, start: Any, results: Any) -> None:
    ledger = SqliteDeliveryLedger(path)
    start.wait()
    results.put(ledger.seen_or_record(f"p-{index}", body_digest(b"same body")))


def test_concurrent_processes_on_one_file_agree_on_a_single_first(path: Path) -> None:
    """Several ingress processes on one state directory: SQLite's file locks decide."""
    context = multiprocessing.get_context("fork")
    start = context.Event()
    results = context.Queue()
    processes = [
        context.Process(target=_record_in_process, args=(path, i, start, results))
        for i in range(8)
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = sorted(results.get(timeout=30) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert outcomes == [False] + [True] * 7
