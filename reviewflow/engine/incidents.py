"""The engine's open incidents, read from Operaton's REST API (``GET /engine-rest/incident``).

An incident is what Cockpit shows in red: an external task out of retries
(``failedExternalTask``, its ``configuration`` is the external task's id), a failed job
(``failedJob``), and so on. Resolving a ``failedExternalTask`` incident means giving the task
retries again: ``PUT /engine-rest/external-task/<id>/retries`` with ``{"retries": 1}``.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Incident:
    id: str
    type: str  # failedExternalTask, failedJob, ...
    message: str
    process_instance_id: str
    process_definition_id: str
    activity_id: str
    configuration: str  # failedExternalTask: the external task id; failedJob: the job id
    timestamp: dt.datetime | None


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:  # Operaton writes e.g. 2026-11-30T06:40:12.345+0000
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def parse_incident(data: dict[str, Any]) -> Incident:
    def text(key: str) -> str:
        value = data.get(key)
        return "" if value is None else str(value)

    return Incident(
        id=text("id"),
        type=text("incidentType"),
        message=text("incidentMessage"),
        process_instance_id=text("processInstanceId"),
        process_definition_id=text("processDefinitionId"),
        activity_id=text("activityId") or text("failedActivityId"),
        configuration=text("configuration"),
        timestamp=_parse_time(data.get("incidentTimestamp")),
    )


def list_incidents(
    rest_url: str, timeout: float = 10.0, auth: tuple[str, str] | None = None
) -> list[Incident]:
    """The open incidents of the engine at ``rest_url`` (…/engine-rest), oldest first;
    ``auth`` (user, password) when the REST API requires HTTP Basic authentication.
    Raises ``httpx.HTTPError`` when the engine does not answer or refuses."""
    response = httpx.get(
        f"{rest_url.rstrip('/')}/incident",
        params={"sortBy": "incidentTimestamp", "sortOrder": "asc"},
        timeout=timeout,
        auth=auth,
    )
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, list):
        raise ValueError(f"unexpected answer from {rest_url}/incident: {str(data)[:200]}")
    return [parse_incident(item) for item in data if isinstance(item, dict)]
