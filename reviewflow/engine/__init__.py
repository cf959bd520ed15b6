"""The Zeebe engine the pipeline runs on: a local broker, an external cluster, or Docker.

- :mod:`reviewflow.engine.versions`: the pinned versions (the one place they live).
- :mod:`reviewflow.engine.java`: finding a Java 21+ runtime for the local broker.
- :mod:`reviewflow.engine.endpoints`: the addresses and readiness probe both engines share.
- :mod:`reviewflow.engine.local`: fetching, configuring, starting and stopping a local broker.
- :mod:`reviewflow.engine.cluster`: connecting to an external cluster (plain, TLS or OAuth).
- :mod:`reviewflow.engine.docker`: the official Camunda image, for users with Docker.
- :mod:`reviewflow.engine.messages`: idempotent message publication.
"""
