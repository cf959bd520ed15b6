"""The engine the pipeline runs on, behind one port.

- :mod:`reviewflow.engine.port`: the engine port (what reviewflow asks of any engine).
- :mod:`reviewflow.engine.operaton`: the default adapter, Operaton's REST API over httpx.
- :mod:`reviewflow.engine.zeebe`: the optional adapter for a Camunda 8 cluster a user runs
  under their own licence (``ZEEBE_ADDRESS``; settings in :mod:`reviewflow.engine.cluster`).
- :mod:`reviewflow.engine.connect`: which engine to use, from the environment.
- :mod:`reviewflow.engine.local`: building, starting and stopping the local Operaton engine
  (from the repository's ``engine/`` module); :mod:`reviewflow.engine.java` finds Java 17+;
  :mod:`reviewflow.engine.errors` holds ``EngineError``.
"""
