"""Where OpenMLDB's conformance cases are, for the unit tests that read some of them directly.

They are not part of the repository (``../shared/conformance`` beside the checkout, or ``CONFORMANCE_DIR`` as the
Makefile's ``conformance`` target takes it: the ``openmldb`` folder). On a machine without them, the tests that need
them are skipped with a reason instead of failing at collection.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPOSITORY = Path(__file__).resolve().parent.parent


def cases_dir() -> Path | None:
    """The ``cases`` folder of OpenMLDB's feature-SQL conformance cases, or ``None`` when it is absent."""
    configured = os.environ.get("CONFORMANCE_DIR")
    root = Path(configured) if configured else _REPOSITORY.parent / "shared" / "conformance" / "openmldb"
    if not root.is_absolute():
        root = _REPOSITORY / root
    cases = root / "cases"
    return cases if cases.is_dir() else None


CASES = cases_dir()

#: Marks a test that reads the conformance cases; skipped, saying why, where they are absent.
requires_cases = pytest.mark.skipif(
    CASES is None,
    reason="OpenMLDB's conformance cases not found (../shared/conformance/openmldb beside the checkout, or set "
    "CONFORMANCE_DIR)",
)


def case_file(relative: str) -> Path | None:
    """``cases/relative`` if the cases are present."""
    return None if CASES is None else CASES / relative
