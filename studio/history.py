"""Undo/redo over design snapshots (one JSON string per step)."""
from __future__ import annotations


class History:
    """Snapshots of the design document; each user action is one step."""

    def __init__(self, limit: int = 200):
        self.limit = limit
        self.undo_stack: list[str] = []
        self.redo_stack: list[str] = []

    def push(self, before: str) -> None:
        if self.undo_stack and self.undo_stack[-1] == before:
            return
        self.undo_stack.append(before)
        del self.undo_stack[:-self.limit]
        self.redo_stack.clear()

    def undo(self, current: str) -> str | None:
        if not self.undo_stack:
            return None
        self.redo_stack.append(current)
        return self.undo_stack.pop()

    def redo(self, current: str) -> str | None:
        if not self.redo_stack:
            return None
        self.undo_stack.append(current)
        return self.redo_stack.pop()

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_stack)
