"""The addresses an engine answers on, and its readiness probe: the same for the local broker
and the Docker container (both publish gRPC, REST and management ports on one host)."""

from typing import Protocol

import httpx


class Ports(Protocol):
    @property
    def grpc(self) -> int: ...

    @property
    def rest(self) -> int: ...

    @property
    def management(self) -> int: ...


class EngineEndpoints:
    """Mixin: ``grpc_address``, ``rest_url``, ``management_url``, ``readiness_url`` and
    :meth:`ready` from the class's ``host`` and ``ports``."""

    host: str
    ports: Ports

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.ports.grpc}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.ports.rest}"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.ports.management}"

    @property
    def readiness_url(self) -> str:
        return f"{self.management_url}/actuator/health/readiness"

    def _ready(self) -> bool:
        """The readiness endpoint answers 200."""
        try:
            response = httpx.get(self.readiness_url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
