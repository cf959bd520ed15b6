"""The engine the pipeline runs on: Operaton (local, from the repository's ``engine/`` module),
or, through the optional adapter, a Camunda 8 cluster the user runs.

- :mod:`reviewflow.engine.errors`: `EngineError` (also raised for a missing Java or Maven).
- :mod:`reviewflow.engine.java`: finding a Java 17+ runtime for the local engine.
- :mod:`reviewflow.engine.local`: building, starting and stopping the local Operaton engine.
- :mod:`reviewflow.engine.incidents`: the engine's open incidents over its REST API.
- :mod:`reviewflow.engine.cluster`: the Camunda 8 adapter's settings (``ZEEBE_*``).
- :mod:`reviewflow.engine.messages`: idempotent message publication.
"""
