"""Checking an orchestrator task's arguments: each error names the task and the argument, in the same words for
every adapter (an Airflow operator, a DolphinScheduler task).

Orchestrators fill arguments from templates and parameters, so a value may arrive as text: the checks accept the
text of a value where it is unambiguous: ``"3"`` for an integer, ``"true"`` for a flag, a JSON list or object for
a list or mapping (``"{{ ti.xcom_pull(...) | tojson }}"``). An adapter says where (``"OpenFeatIngestOperator(task_id=
'ingest')"``) and which exception class to raise (its orchestrator's "fail without retrying" error; by default
:class:`~openfeat_core.tasks.base.InvalidRequest`, a usage error).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openfeat_core.tasks.base import InvalidRequest

__all__ = ["Arguments"]

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


class Arguments:
    """The checks, for one task (which every error names).

    Args:
        where: the task, as its user wrote it: ``OpenFeatIngestOperator(task_id='ingest')``.
        error: the exception class raised for a wrong argument (called with the message).
    """

    def __init__(self, where: str, error: Callable[[str], Exception] = InvalidRequest) -> None:
        self.where = where
        self._error = error

    def error(self, name: str, problem: str) -> Exception:
        """An error saying that argument ``name`` ``problem``."""
        return self._error(f"{self.where}: argument {name!r} {problem}")

    def text(self, name: str, value: Any) -> str:
        """A required, non-blank string (a path-like object is taken as its path)."""
        checked = self.optional_text(name, value)
        if checked is None:
            raise self.error(name, "is required, got " + ("nothing" if value is None else repr(value)))
        return checked

    def optional_text(self, name: str, value: Any) -> str | None:
        """A string, or None for None or a blank string (what an empty template renders to)."""
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise self.error(name, f"must be a string, got {type(value).__name__} {value!r}")
        return value

    def choice(self, name: str, value: Any, allowed: Sequence[str]) -> str | None:
        """One of ``allowed``, or None when not given."""
        checked = self.optional_text(name, value)
        if checked is not None and checked not in allowed:
            raise self.error(name, f"must be one of {', '.join(map(repr, allowed))}, got {checked!r}")
        return checked

    def integer(self, name: str, value: Any, *, minimum: int | None = None) -> int | None:
        """An integer (or its text), at least ``minimum``; None when not given."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if number is None:
            raise self.error(name, f"must be an integer, got {type(value).__name__} {value!r}")
        if minimum is not None and number < minimum:
            raise self.error(name, f"must be at least {minimum}, got {number}")
        return number

    def number(self, name: str, value: Any, *, minimum: float = 0.0, maximum: float = math.inf) -> float | None:
        """A finite number (or its text) in ``[minimum, maximum]``; None when not given."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        number = math.nan
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = math.nan
        if not math.isfinite(number):
            raise self.error(name, f"must be a number, got {type(value).__name__} {value!r}")
        if not minimum <= number <= maximum:
            bounds = f"at least {minimum:g}" if maximum == math.inf else f"between {minimum:g} and {maximum:g}"
            raise self.error(name, f"must be {bounds}, got {number:g}")
        return number

    def flag(self, name: str, value: Any) -> bool | None:
        """A boolean, or its text (true/false, yes/no, 1/0, on/off); None when not given."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self.error(name, f"must be true or false, got {type(value).__name__} {value!r}")

    def texts(self, name: str, value: Any, *, single: bool = False, blank: bool = False) -> list[str] | None:
        """A non-empty list of strings (or a JSON list of them), non-blank unless ``blank``; with ``single``, one
        string is a list of one. None when not given.
        """
        if value is None:
            return None
        if isinstance(value, (str, os.PathLike)):
            text = os.fspath(value).strip()
            if text.startswith("["):
                value = self._json(name, text)
            elif single and text:
                return [text]
            else:
                raise self.error(name, f"must be a list of strings, got {value!r}")
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise self.error(name, f"must be a list of strings, got {type(value).__name__} {value!r}")
        items = [os.fspath(v) if isinstance(v, os.PathLike) else v for v in value]
        bad = [v for v in items if not isinstance(v, str) or not (blank or v.strip())]
        if bad or not items:
            what = "strings" if blank else "non-blank strings"
            raise self.error(name, f"must be a non-empty list of {what}, got {list(value)!r}")
        return items

    def mapping(self, name: str, value: Any) -> dict[str, Any] | None:
        """A mapping with string keys (or a JSON object); None when not given."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            value = self._json(name, value.strip())
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise self.error(name, f"must be a mapping with string keys, got {type(value).__name__} {value!r}")
        return dict(value)

    def table_versions(self, name: str, value: Any) -> dict[str, int | None]:
        """Table versions: a mapping ``{table: version or None}`` (versions may be text), or a list of tables (all at
        their latest version). ``{}`` when not given.
        """
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        if isinstance(value, str) and value.strip().startswith("{"):
            value = self._json(name, value.strip())
        if not isinstance(value, Mapping):
            return dict.fromkeys(self.texts(name, value, single=True) or [])
        versions: dict[str, int | None] = {}
        for table, version in value.items():
            if not isinstance(table, str) or not table.strip():
                raise self.error(name, f"must name tables by non-blank strings, got key {table!r}")
            versions[table] = self.integer(f"{name}[{table!r}]", version, minimum=1)
        return versions

    def _json(self, name: str, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as e:
            raise self.error(name, f"is not valid JSON ({e}): {text[:200]!r}") from None
