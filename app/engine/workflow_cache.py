"""The workflows this process saved last, kept in memory so the next change skips deserializing.

Every save writes a new random ``state_token`` next to the serialized state and puts the live
workflow here under that token. :func:`app.engine.locking.locked_instance` reads the token of
the locked row: when this process holds a workflow under exactly that token, the row's state is
the serialization of that very object, so it is used instead of ``deserialize(state)``.

Why this is safe:
- A token is random and written once; a state saved by another process, or a transaction that
  rolled back, has a token this cache never sees or that the row never carries.
- :meth:`take` removes the entry: a workflow is changed by one holder at a time, and if the
  change fails (the block raises, the transaction rolls back) the object is simply dropped.
- Only :func:`app.engine.projections.save_workflow` writes a state, always with a new token.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

#: Workflows kept per process (the least recently saved are forgotten first).
DEFAULT_SIZE = 2000


class WorkflowCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, BpmnWorkflow] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, token: str | None) -> BpmnWorkflow | None:
        """The workflow saved under ``token``, removed from the cache (None when not held)."""
        if token is None:
            return None
        with self._lock:
            workflow = self._entries.pop(token, None)
            if workflow is None:
                self.misses += 1
            else:
                self.hits += 1
            return workflow

    def peek(self, token: str | None) -> BpmnWorkflow | None:
        """The workflow saved under ``token``, left in the cache: for reading only."""
        if token is None:
            return None
        with self._lock:
            return self._entries.get(token)

    def put(self, token: str, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._entries[token] = workflow
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


cache = WorkflowCache()
