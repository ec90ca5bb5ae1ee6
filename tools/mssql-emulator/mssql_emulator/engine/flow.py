"""The control-flow signals of a batch: RETURN, a stopped batch, an EXEC argument not yet evaluated (TEST FIXTURE)."""

from __future__ import annotations

class DeferredArg:
    def __init__(self, text: str) -> None:
        self.text = text


class BatchStop(Exception):
    pass


class BatchReturn(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = int(value)
