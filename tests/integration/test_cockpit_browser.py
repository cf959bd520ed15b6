"""Cockpit in a real browser: what an operator sees of a review, and a retry from the UI.

Debian's Chromium (``/usr/bin/chromium``, installed by scripts/setup) is driven by Playwright's
Python package; Playwright never downloads a browser here. The tests log in with the engine's
*generated* admin password (``LocalEngine().admin_password()``, the state dir's
``engine/admin-password``), open the page ``reviewflow review`` prints (``ReviewRun.operator_url``,
``<cockpit>/#/review/<id>``: the engine module's Cockpit plugin, because the community Cockpit's
own instance page covers running instances only) and assert what is on the screen.

Screenshots go to each test's ``tmp_path`` (under pytest's ``--basetemp`` when given); their
paths are printed (``pytest -s`` or ``-rA`` shows them). Like every test under
tests/integration/ these are marked ``integration`` (and ``browser``); they never skip: without
Chromium or Playwright they fail with the install hint.
"""

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import InstanceStatus
from reviewflow.review import ReviewRun, local_target, start_review
from reviewflow.sample import make_sample_repo
from tests.integration.conftest import EngineHandle, Workers
from tests.integration.test_incidents import FEEDBACK_ELEMENT, wait_for_incident

try:
    from playwright.async_api import BrowserContext, Page, async_playwright, expect
except ImportError:  # pragma: no cover - reported by the fixture
    async_playwright = None  # type: ignore[assignment]

CHROMIUM = Path(os.environ.get("REVIEWFLOW_CHROMIUM", "/usr/bin/chromium"))
# what works for Debian's Chromium on these machines (headless, as root, no network extras)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "run scripts/setup as root, or `apt-get update && apt-get install -y chromium` "
    "(Debian's Chromium; Playwright downloads no browser here: never `playwright install`)"
)
ADMIN_PASSWORD_ENV = "REVIEWFLOW_ENGINE_ADMIN_PASSWORD"

# `-m browser` selects these; the conftest marks them `integration` as well, so CI runs them
pytestmark = pytest.mark.browser


def admin_login(engine: EngineHandle) -> tuple[str, str]:
    """The engine's admin user and its generated password."""
    if engine.local is not None:
        return engine.local.admin_user, engine.local.admin_password()
    password = os.environ.get(ADMIN_PASSWORD_ENV, "").strip()
    if not password:
        pytest.fail(
            f"the engine at {engine.rest_url} is not this state dir's: set {ADMIN_PASSWORD_ENV} "
            "to its admin password for the Cockpit browser tests",
            pytrace=False,
        )
    return os.environ.get("REVIEWFLOW_ENGINE_ADMIN_USER", "admin"), password


@dataclass
class Cockpit:
    context: "BrowserContext"
    page: "Page"
    url: str  # .../operaton/app/cockpit/default/
    user: str
    password: str
    shots: Path
    count: int = 0

    async def log_in(self, password: str | None = None) -> None:
        page = self.page
        await page.goto(self.url)
        await page.get_by_placeholder("Username").fill(self.user)
        await page.get_by_placeholder("Password").fill(password or self.password)
        await page.get_by_role("button", name="Log in").click()

    async def log_in_ok(self) -> None:
        """Log in; the engine refuses any login for a few seconds after a failed one."""
        dashboard = self.page.get_by_text("Running Process Instances")
        failed = self.page.get_by_text("Login Failed")
        for _ in range(3):
            await self.log_in()
            await expect(dashboard.or_(failed)).to_be_visible()
            if await dashboard.is_visible():
                return
            await asyncio.sleep(4)
        await expect(dashboard).to_be_visible()

    async def screenshot(self, name: str) -> Path:
        self.count += 1
        path = self.shots / f"{self.count:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
async def cockpit(engine: EngineHandle, tmp_path: Path) -> AsyncIterator[Cockpit]:
    if async_playwright is None:
        pytest.fail(
            "the Python package playwright is missing: `pip install -e '.[dev]'` (scripts/setup)",
            pytrace=False,
        )
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: {INSTALL_HINT}", pytrace=False)
    user, password = admin_login(engine)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user-data dir
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(30_000)
        expect.set_options(timeout=30_000)
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            yield Cockpit(context, page, engine.cockpit_url, user, password, shots)
        finally:
            await context.close()


async def review(client: OperatonEngine, repo: Path, timeout_s: float = 180) -> ReviewRun:
    return await start_review(client, local_target(repo, "main", "feature"), timeout_s=timeout_s)


async def passed_activities(engine: EngineHandle, instance_id: str) -> set[str]:
    async with httpx.AsyncClient(base_url=engine.rest_url, timeout=10) as http:
        response = await http.get(
            "/history/activity-instance",
            params={"processInstanceId": instance_id, "maxResults": 1000},
        )
    response.raise_for_status()
    return {a["activityId"] for a in response.json()}


async def highlighted(page: "Page") -> set[str]:
    ids = await page.eval_on_selector_all(
        ".reviewflow-diagram .djs-element.highlight", "els => els.map(e => e.dataset.elementId)"
    )
    return set(ids)


def field(page: "Page", key: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-reviewflow="{key}"]')


async def test_a_finished_review_in_cockpit_shows_its_diagram_state_and_business_key(
    tmp_path: Path,
    engine: EngineHandle,
    client: OperatonEngine,
    workers: Workers,
    cockpit: Cockpit,
) -> None:
    run = await review(client, make_sample_repo(tmp_path / "repo"))
    assert run.result is not None and run.operator_url is not None
    state = await client.instance(run.instance_id)
    assert state.status is InstanceStatus.COMPLETED and state.business_key
    key = state.business_key
    assert run.operator_url == f"{engine.cockpit_url.rstrip('/')}/#/review/{run.instance_id}"
    page = cockpit.page

    # the generated password logs in, and the printed page shows the finished review
    await cockpit.log_in_ok()
    await page.goto(run.operator_url)
    await expect(field(page, "title")).to_contain_text(f"Review {key}")
    await expect(field(page, "state")).to_have_text("COMPLETED")
    await expect(field(page, "business-key")).to_have_text(key)
    await expect(field(page, "instance-id")).to_have_text(run.instance_id)
    await expect(field(page, "end-time")).not_to_have_text("(running)")
    await expect(field(page, "open-incidents")).to_have_text("0")
    # the process diagram, drawn by Cockpit's own BPMN viewer, with the activities it passed
    await expect(page.locator('[data-reviewflow-diagram="loaded"]')).to_be_visible()
    await expect(
        page.locator(f'.reviewflow-diagram [data-element-id="{FEEDBACK_ELEMENT}"]')
    ).to_be_visible()
    passed = await passed_activities(engine, run.instance_id)
    shown = await highlighted(page)
    assert FEEDBACK_ELEMENT in shown and "StartEvent_ReviewRequested" in shown
    assert shown and shown <= passed, shown - passed
    drawn = set(
        await page.eval_on_selector_all(
            ".reviewflow-diagram .djs-element.djs-shape", "els => els.map(e => e.dataset.elementId)"
        )
    )
    assert shown == passed & drawn  # every passed activity the diagram has, and nothing else
    await expect(field(page, "activities")).to_contain_text("Load team feedback")
    await cockpit.screenshot("finished-review")

    # logged out, a wrong password gets the login page back, not the data (the engine then
    # delays the user's next login by a few seconds)
    await cockpit.context.clear_cookies()
    await cockpit.log_in(password=cockpit.password + "-wrong")
    await expect(page.get_by_text("Wrong credentials", exact=False)).to_be_visible()
    await page.goto(run.operator_url)
    await expect(page.get_by_placeholder("Password")).to_be_visible()
    await cockpit.screenshot("wrong-password")
    assert await field(page, "title").count() == 0
    assert key not in await page.inner_text("body")

    # why the plugin's page: Cockpit's own instance page does not show a finished instance
    await cockpit.log_in_ok()
    await page.goto(
        f"{engine.cockpit_url.rstrip('/')}/#/process-instance/{run.instance_id}/runtime"
    )
    await expect(
        page.get_by_text(f"Process instance with ID {run.instance_id} has been completed")
    ).to_be_visible()
    await cockpit.screenshot("runtime-page-of-a-finished-instance")


async def test_an_incident_is_found_and_retried_in_cockpit_and_the_review_completes(
    tmp_path: Path,
    engine: EngineHandle,
    client: OperatonEngine,
    workers: Workers,
    cockpit: Cockpit,
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    marker = f"corrupt-{uuid.uuid4().hex}"
    feedback = repo / ".reviewflow" / "feedback.json"
    feedback.parent.mkdir()
    feedback.write_text(json.dumps([{"marker": marker}]))
    run_task = asyncio.create_task(review(client, repo, timeout_s=300))
    page = cockpit.page
    try:
        # "Load team feedback" fails three times: the engine raises an incident
        incident = await wait_for_incident(client, marker, 120, run_task)
        await cockpit.log_in_ok()
        url = client.operator_url(incident.process_instance_id)
        assert url is not None

        # the review's page: running, one open incident, with its message
        await page.goto(url)
        await expect(field(page, "state")).to_have_text("ACTIVE")
        await expect(field(page, "open-incidents")).to_have_text("1")
        await expect(field(page, "incidents")).to_contain_text(marker)
        await cockpit.screenshot("review-with-incident")

        # Cockpit's runtime page of the instance, incidents tab: the incident, and its retry
        await field(page, "runtime-link").click()
        instance_id = incident.process_instance_id
        runtime = f"{engine.cockpit_url.rstrip('/')}/#/process-instance/{instance_id}/runtime"
        await expect(page).to_have_url(re.compile(re.escape(runtime) + r"(\?.*)?$"))
        await page.get_by_role("link", name="Incidents", exact=True).click()
        row = page.locator("tr", has_text=marker)
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("failedExternalTask")
        await expect(row).to_contain_text("Load team feedback")
        await cockpit.screenshot("incident-in-cockpit")

        # fix the cause, then "Increment Number of Retries" from the UI
        feedback.write_text("[]")
        await row.locator(
            '[uib-tooltip="Increment Number of Retries of Failed External Tasks"]'
        ).click()
        dialog = page.locator(".modal-content")
        await expect(dialog).to_contain_text("Are you sure to increment the number of retries?")
        await dialog.get_by_role("button", name="Retry").click()
        await expect(dialog).to_contain_text("finished successfully")
        await cockpit.screenshot("retried")
        await dialog.get_by_role("button", name="OK").click()

        run = await asyncio.wait_for(run_task, 240)
    finally:
        if not run_task.done():
            run_task.cancel()
            await asyncio.gather(run_task, return_exceptions=True)

    # the same instance ran to its end; the review's page says so
    assert run.instance_id == incident.process_instance_id
    assert run.result is not None and not run.result.errors
    await page.goto(url)
    await expect(field(page, "state")).to_have_text("COMPLETED")
    await expect(field(page, "open-incidents")).to_have_text("0")
    await expect(field(page, "incidents-total")).to_have_text("1")
    await expect(page.locator('[data-reviewflow-diagram="loaded"]')).to_be_visible()
    assert FEEDBACK_ELEMENT in await highlighted(page)
    await cockpit.screenshot("review-completed-after-retry")
    assert incident.id not in {i.id for i in await client.incidents()}
