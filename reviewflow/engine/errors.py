"""The engine layer's errors (here so that :mod:`reviewflow.engine.java` can use them too)."""


class EngineError(RuntimeError):
    """The engine could not be built, configured, started or stopped."""


class EngineStartError(EngineError):
    """The engine did not become ready; carries the tail of its log."""

    def __init__(self, message: str, log_tail: str) -> None:
        super().__init__(f"{message}\n--- last lines of the engine log ---\n{log_tail}")
        self.reason = message
        self.log_tail = log_tail
