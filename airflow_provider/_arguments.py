"""Checking operator arguments once they are rendered: each error names the operator, the task and the argument.

Operators store their arguments as given (templates are rendered later, by Airflow) and check them here, in
``execute()``. Rendered templates are strings unless the DAG renders native objects, so the checks accept the
text of a value where it is unambiguous: ``"3"`` for an integer, ``"true"`` for a flag, a JSON list or object for
a list or mapping (``"{{ ti.xcom_pull(...) | tojson }}"``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider.exceptions import OpenFeatArgumentError

__all__ = ["Arguments"]

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


class Arguments:
    """The checks, for one operator (whose class and task id every error names).

    Args:
        operator: the operator whose arguments are checked (anything with a ``task_id``).
    """

    def __init__(self, operator: Any) -> None:
        self.where = f"{type(operator).__name__}(task_id={operator.task_id!r})"

    def error(self, name: str, problem: str) -> OpenFeatArgumentError:
        """An error saying that argument ``name`` ``problem``."""
        return OpenFeatArgumentError(f"{self.where}: argument {name!r} {problem}")

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
