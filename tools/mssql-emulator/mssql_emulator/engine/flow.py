"""The control-flow signals of a batch: RETURN, a stopped batch, an EXEC argument not yet evaluated (TEST FIXTURE)."""

from __future__ import annotations


class DeferredArg:
    """An EXEC argument as written, evaluated when the procedure is called."""

    def __init__(self, text: str) -> None:
        self.text = text


class BatchStop(Exception):
    """The batch ends here (ATTENTION, XACT_ABORT, a killed session); nothing more is sent for it."""


class BatchReturn(Exception):
    """RETURN [n]: leaves the batch or the procedure with a status."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = int(value)
