"""What every trainer's config shares: field docs read from the source, loading from a saved dict,
range checks, and the error a bad setting raises."""

from __future__ import annotations

import ast
import inspect
import itertools
from dataclasses import fields, is_dataclass
from typing import Any, Self


class TrainingError(ValueError):
    """A training setting or checkpoint that cannot be used; the message names it in one line."""


class TrainConfig:
    """Mixin for a trainer's config dataclass whose every field is followed by a doc-string line."""

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """Field name → its doc line (read from the class's source)."""
        body = ast.parse(inspect.getsource(cls)).body[0].body  # type: ignore[attr-defined]
        docs: dict[str, str] = {}
        for node, following in itertools.pairwise(body):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)):
                docs[node.target.id] = str(following.value.value)
        return docs

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The config saved as ``data``; fields it lacks (older runs) take their defaults."""
        assert is_dataclass(cls)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def require_positive(self, *names: str) -> None:
        """`TrainingError` naming the first of ``names`` that is not > 0."""
        for name in names:
            if getattr(self, name) <= 0:
                raise TrainingError(f"{name} must be > 0, got {getattr(self, name)}")
