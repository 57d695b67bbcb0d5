"""The DolphinScheduler task tests run in the DolphinScheduler virtualenv (``.venv-ds``, pydolphinscheduler).

The main virtualenv has no pydolphinscheduler: there this directory is not collected at all.
"""

from __future__ import annotations

import importlib.metadata

# Asked of the installed distributions, not the import system (as tests/kfp/conftest.py does).
try:
    importlib.metadata.distribution("apache-dolphinscheduler")
except importlib.metadata.PackageNotFoundError:
    collect_ignore_glob = ["*.py"]
