"""The conformance runner: OpenMLDB's own case files (YAML) run through OpenFeat, results compared with theirs.

* :mod:`~openfeat_core.conformance.cases` loads case files and expands ``dataProvider`` cases;
* :mod:`~openfeat_core.conformance.compare` compares a result table with a case's expectation;
* :mod:`~openfeat_core.conformance.runner` runs cases in batch / request mode and reports (also the CLI,
  ``python -m openfeat_core.conformance``).
"""

from openfeat_core.conformance.cases import Case, CaseFormatError, load_case_file
from openfeat_core.conformance.compare import check_result
from openfeat_core.conformance.runner import Engine, Outcome, Report, SkipList, main, run_files

__all__ = [
    "Case",
    "CaseFormatError",
    "Engine",
    "Outcome",
    "Report",
    "SkipList",
    "check_result",
    "load_case_file",
    "main",
    "run_files",
]
