"""Errors and validation problems.

Every problem found in a design is a :class:`Problem` that names where it is (node id,
port, parameter) and what would fix it. :class:`DesignError` carries *all* problems
found at once, never only the first.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``severity="error"``) or suspicious (``"warning"``) in a design."""

    severity: str
    code: str
    message: str
    fix: str = ""
    node: str | None = None
    port: str | None = None
    param: str | None = None
    edge: str | None = field(default=None, compare=False)  # the edge concerned (studio highlighting)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("edge")
        return d

    def __str__(self) -> str:
        where = []
        if self.node is not None:
            where.append(f"node '{self.node}'")
        if self.port is not None:
            where.append(f"port '{self.port}'")
        if self.param is not None:
            where.append(f"parameter '{self.param}'")
        loc = (", ".join(where) + ": ") if where else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.severity}[{self.code}] {loc}{self.message}.{fix}".replace("..", ".")


class GliaflowError(Exception):
    """Base class of every error gliaflow raises on purpose."""


class DesignError(GliaflowError):
    """A design that cannot be read, validated or built. Holds every problem found."""

    def __init__(self, problems: list[Problem] | Problem | str, *, code: str = "design.invalid"):
        if isinstance(problems, str):
            problems = [Problem("error", code, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__(self._text())

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def _text(self) -> str:
        errs = self.errors or self.problems
        if len(errs) == 1:
            return str(errs[0])
        return f"{len(errs)} problems in the design:\n" + "\n".join(f"  - {p}" for p in errs)


class DivergenceError(GliaflowError):
    """The simulation produced non-finite values or runaway firing in a population."""

    def __init__(self, node: str, message: str, t_ms: float):
        self.node = node
        self.t_ms = t_ms
        super().__init__(f"population '{node}' diverged (detected at t = {t_ms:.1f} ms): {message}")
