"""Running conformance cases through the engine and reporting the outcomes.

Each case runs in batch mode (``openfeat_core.compute``) and/or request mode (``openfeat_core.request_replay``: the
first input is the request table, its rows streamed in file order; a case without inputs has nothing to stream and
is computed with ``compute`` in both modes), with ``timezone="Etc/GMT-8"`` (fixed UTC+8) because the
upstream expectations assume it. A case is *skipped* when upstream says so (a ``TODO`` tag, a ``level`` above
``HYBRIDSE_LEVEL``, ``batch-unsupport``/``request-unsupport`` in its mode), or when it is on the skip list **and
still fails**: skip-listed cases are run anyway, so that an entry whose case now passes is reported as stale and the
list only shrinks. Everything else passes or fails; the runner never skips silently.

Case kinds (:attr:`openfeat_core.conformance.cases.Case.kind`) and who runs them:

* ``query``: one query over ``columns``/``rows`` inputs, computed by the engine here (:func:`execute_case`).
* ``statements``: ``sqls`` lists, non-query ``sql``, raw ``create``/``insert(s)`` inputs, run statement by statement
  through the SQL route's executor by :mod:`openfeat_core.conformance.statement_cases`.
* ``restful`` (APIServer case files, and any other kind of *file* a module registers): :data:`FILE_RUNNERS` maps
  the kind to ``"module:function"``; :func:`run_files` collects the files of that kind and calls the function once
  for all of them (the restful runner starts one ``openfeat serve`` for the run) as
  ``function(files, name_filter=...)``; it returns a report whose ``outcomes`` have ``file``, ``id``, ``desc``,
  ``status`` (``passed``/``failed``), ``reason`` and ``seconds`` (:class:`ForeignOutcome`). An HTTP call has no
  batch or request mode: each outcome counts in every mode run, like a constant ``SELECT``. The skip list applies.
  The seam for the APIServer cases is ``openfeat_core.conformance.restful.run_restful_files``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

import pyarrow as pa
import yaml

from openfeat_core.conformance.cases import (
    Case,
    CaseFormatError,
    build_table,
    find_case_files,
    load_case_file,
    relative_case_file,
)
from openfeat_core.conformance.compare import judge_result
from openfeat_core.conformance.statement_cases import run_batch_request_case, run_statements_case
from openfeat_core.errors import OpenFeatError

#: The zone OpenMLDB's expectations of formatted timestamps assume (it only supports GMT+8, issue #851).
# OpenMLDB formats times at a fixed UTC+08:00 (no tz database: no 1986-91 DST, no LMT), i.e. Etc/GMT-8.
CASE_TIMEZONE = "Etc/GMT-8"

Mode = Literal["batch", "request"]
Status = Literal["passed", "failed", "skipped"]
MODES: tuple[Mode, ...] = ("batch", "request")

#: The skip list the CLI uses when none is given, if it exists.
DEFAULT_SKIPLIST = Path(__file__).resolve().parents[2] / "tests" / "conformance" / "skiplist.yaml"


class ComputeFn(Protocol):
    """``openfeat_core.compute``."""

    def __call__(
        self,
        sql: str,
        tables: Mapping[str, Any],
        *,
        timezone: str = ...,
        indexes: Mapping[str, Sequence[str]] | None = ...,
        parameters: pa.Table | None = ...,
    ) -> pa.Table: ...


class RequestReplayFn(Protocol):
    """``openfeat_core.request_replay``."""

    def __call__(
        self,
        sql: str,
        tables: Mapping[str, Any],
        request_table: str,
        *,
        timezone: str = ...,
        indexes: Mapping[str, Sequence[str]] | None = ...,
        deploy_options: Mapping[str, str] | None = ...,
    ) -> pa.Table: ...


@dataclass(frozen=True)
class Engine:
    """The engine entry points the runner calls; ``None`` for one the engine does not provide (yet)."""

    compute: ComputeFn | None
    request_replay: RequestReplayFn | None = None


class EngineImportError(RuntimeError):
    """``openfeat_core`` cannot be imported."""


def load_engine() -> Engine:
    """The real engine: ``openfeat_core.compute`` and, once it exists, ``openfeat_core.request_replay``.

    Raises:
        EngineImportError: importing ``openfeat_core`` failed.
    """
    try:
        import openfeat_core
    except Exception as exc:  # an engine bug at import time: report it, do not crash the runner
        raise EngineImportError(f"cannot import openfeat_core: {type(exc).__name__}: {exc}") from exc
    return Engine(getattr(openfeat_core, "compute", None), getattr(openfeat_core, "request_replay", None))


# ---------------------------------------------------------------------------------------------------------------------
# Skip list and upstream skips
# ---------------------------------------------------------------------------------------------------------------------


SkipMode = Literal["batch", "request", "both"]
_SKIP_MODES: dict[str, SkipMode] = {"batch": "batch", "request": "request", "both": "both"}


@dataclass(frozen=True)
class SkipEntry:
    """One skip-list entry: the case ``id`` of ``file`` (relative to ``cases/``) is known to fail in ``mode``."""

    file: str
    id: str
    mode: SkipMode
    reason: str

    def covers(self, mode: Mode) -> bool:
        return self.mode in (mode, "both")


class SkipList:
    """The entries of a skip list, looked up by (file, id, mode)."""

    def __init__(self, entries: Iterable[SkipEntry] = ()) -> None:
        self.entries = list(entries)
        self._by_case: dict[tuple[str, str], list[SkipEntry]] = {}
        for entry in self.entries:
            self._by_case.setdefault((entry.file, entry.id), []).append(entry)

    def lookup(self, file: str, case_id: str, mode: Mode) -> SkipEntry | None:
        """The entry covering this case in this mode, if any."""
        return next((e for e in self._by_case.get((file, case_id), []) if e.covers(mode)), None)

    @classmethod
    def load(cls, path: Path) -> SkipList:
        """Read a skip list: a YAML list of ``{file, id, mode, reason}`` (``mode`` defaults to ``both``).

        Raises:
            ValueError: unreadable file or malformed entry.
        """
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read skip list {path}: {exc}") from exc
        if document is None:
            return cls()
        if not isinstance(document, list):
            raise ValueError(f"skip list {path} must be a YAML list")
        entries = []
        for number, item in enumerate(document):
            if not isinstance(item, dict) or "file" not in item or "id" not in item:
                raise ValueError(f"skip list {path}, entry {number}: needs at least 'file' and 'id'")
            mode = _SKIP_MODES.get(str(item.get("mode", "both")).strip())
            if mode is None:
                raise ValueError(f"skip list {path}, entry {number}: mode must be batch, request or both")
            file = str(item["file"]).strip().replace("\\", "/").removeprefix("cases/")
            entries.append(SkipEntry(file, str(item["id"]).strip(), mode, str(item.get("reason") or "")))
        return cls(entries)


def hybridse_level(environ: Mapping[str, str] | None = None) -> int:
    """The highest case ``level`` to run: ``HYBRIDSE_LEVEL`` (a number, or a comma list whose maximum counts), 0.

    Raises:
        ValueError: the variable is set but holds no integers.
    """
    text = (os.environ if environ is None else environ).get("HYBRIDSE_LEVEL", "").strip()
    if not text:
        return 0
    try:
        return max(int(part) for part in re.split(r"[,\s]+", text) if part)
    except ValueError:
        raise ValueError(f"HYBRIDSE_LEVEL must be an integer (or a comma list of them), got {text!r}") from None


def upstream_skip(case: Case, mode: Mode, level: int) -> str | None:
    """Why OpenMLDB's own harness would not run ``case`` in ``mode``, or ``None``."""
    if case.is_todo:
        return "TODO in upstream case"
    if case.level > level:
        return f"level {case.level} > HYBRIDSE_LEVEL {level}"
    if f"{mode}-unsupport" in case.modes:
        return f"{mode}-unsupport"
    if mode == "request" and case.parameters is not None:
        # hybridse/src/testing/engine_test_base.cc: "Request or BatchRequest mode do not support parameterized query
        # currently" (kUnSupport): upstream computes parameterized queries in batch mode only.
        return "parameterized query: upstream runs it in batch mode only"
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The outcome of one case in one mode.

    Attributes:
        skiplist: the reason of the skip-list entry covering the case, if any (a passing case with one is stale).
    """

    file: str
    id: str
    desc: str
    mode: Mode
    status: Status
    reason: str = ""
    seconds: float = 0.0
    skiplist: str | None = None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _crash(exc: BaseException) -> str:
    """``crash: Type: message (at file:line in function)`` — where the engine blew up, for its developers."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return f"crash: {type(exc).__name__}: {_one_line(str(exc))}{where}"


#: Runners of the case-file kinds this module does not run itself: kind -> ``"module:function"`` (see the module
#: docstring).
FILE_RUNNERS: dict[str, str] = {"restful": "openfeat_core.conformance.restful:run_restful_files"}


class ForeignOutcome(Protocol):
    """One outcome a file runner reports."""

    file: str
    id: str
    desc: str
    status: str
    reason: str
    seconds: float


class ForeignReport(Protocol):
    """What a file runner returns."""

    @property
    def outcomes(self) -> Sequence[ForeignOutcome]: ...


class FileRunner(Protocol):
    """A registered runner of one kind of case file (see the module docstring)."""

    def __call__(self, files: Sequence[Path], *, name_filter: str | None = ...) -> ForeignReport: ...


def file_runner(kind: str) -> FileRunner:
    """The registered runner of a kind of case file.

    Raises:
        LookupError: no runner is registered, or its module or function cannot be imported.
    """
    target = FILE_RUNNERS.get(kind)
    if target is None:
        raise LookupError(f"no runner for {kind} cases")
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise LookupError(f"{kind} cases are run by {module_name}, which does not exist yet") from None
    runner = getattr(module, function, None)
    if not callable(runner):
        raise LookupError(f"{kind} cases are run by {target}, which {module_name} does not define")
    return runner


def execute_case(case: Case, mode: Mode, engine: Engine) -> tuple[Status, str]:
    """Run one case in one mode and judge the result (skips are decided by the caller)."""
    if case.error is not None:
        return "failed", f"bad case: {case.error}"
    if case.unsupported:
        return "failed", "unsupported case feature: " + "; ".join(case.unsupported)
    if case.kind == "statements":
        return run_statements_case(case, mode, timezone=CASE_TIMEZONE, replay=engine.request_replay, crash=_crash)
    if case.kind != "query":
        return "failed", f"{case.kind} cases are run a file at a time by run_files (FILE_RUNNERS)"
    if case.batch_request is not None:
        # Upstream runs these in batch-request mode only: the same computation in both of our modes.
        return run_batch_request_case(case, timezone=CASE_TIMEZONE, crash=_crash)
    try:
        tables = {spec.name: build_table(spec) for spec in case.inputs}
        parameters = build_table(case.parameters) if case.parameters is not None else None
    except CaseFormatError as exc:
        return "failed", f"bad case data: {exc}"
    indexes = {spec.name: list(spec.indexes) for spec in case.inputs if spec.indexes} or None
    try:
        if mode == "batch" or not case.inputs:
            # A query over no table (constant SELECT) has no request rows to stream: its one result is the same in
            # both modes, so request mode computes it like batch mode does.
            if engine.compute is None:
                return "failed", "engine has no compute()"
            if parameters is not None:
                result = engine.compute(
                    case.sql, tables, timezone=CASE_TIMEZONE, indexes=indexes, parameters=parameters
                )
            else:
                result = engine.compute(case.sql, tables, timezone=CASE_TIMEZONE, indexes=indexes)
        else:
            if engine.request_replay is None:
                return "failed", "engine has no request_replay()"
            # A case's longWindow is deployed as OPTIONS(long_windows=...), as the Java harness deploys it.
            long_window = {"deploy_options": {"long_windows": case.long_window}} if case.long_window else {}
            result = engine.request_replay(
                case.sql, tables, case.inputs[0].name, timezone=CASE_TIMEZONE, indexes=indexes, **long_window
            )
    except OpenFeatError as exc:
        if not case.expect.success:
            return "passed", ""
        return "failed", f"{type(exc).__name__}: {_one_line(str(exc))}"
    except Exception as exc:  # anything but OpenFeatError escaping the engine is an engine bug
        return "failed", _crash(exc)
    if not isinstance(result, pa.Table):
        return "failed", f"crash: engine returned {type(result).__name__}, not a pyarrow.Table"
    if not case.expect.success:
        return "failed", f"expected an error, but the query succeeded ({result.num_rows} rows)"
    return judge_result(result, case.expect, case.float_tolerance)


def run_case(case: Case, mode: Mode, engine: Engine, skiplist: SkipList, level: int) -> Outcome:
    """Decide whether ``case`` runs in ``mode``, run it, and apply the skip list."""
    outcome = Outcome(case.file, case.id, case.desc, mode, "skipped")
    reason = upstream_skip(case, mode, level)
    if reason is not None:
        outcome.reason = reason
        return outcome
    entry = skiplist.lookup(case.file, case.id, mode)
    started = time.perf_counter()
    outcome.status, outcome.reason = execute_case(case, mode, engine)
    outcome.seconds = round(time.perf_counter() - started, 6)
    if entry is not None:
        outcome.skiplist = entry.reason
        if outcome.status == "failed":
            outcome.status = "skipped"
            outcome.reason = f"skip list: {entry.reason} (still fails: {outcome.reason})"
    return outcome


# ---------------------------------------------------------------------------------------------------------------------
# Running files and reporting
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Report:
    """Everything a run produced."""

    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def summary(self) -> str:
        """The final line: ``N passed, N failed, N skipped``."""
        return f"{self.count('passed')} passed, {self.count('failed')} failed, {self.count('skipped')} skipped"


def run_files(
    files: Sequence[Path],
    modes: Sequence[Mode],
    engine: Engine,
    *,
    skiplist: SkipList | None = None,
    name_filter: str | None = None,
    level: int = 0,
    verbose: bool = False,
    out: TextIO | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> Report:
    """Run every case of ``files`` in each of ``modes``, printing per-file counts (and failures with ``verbose``).

    Args:
        files: case files.
        modes: ``batch`` and/or ``request``.
        engine: the entry points to call.
        skiplist: known failures.
        name_filter: run only cases whose ``"<file>:<id> <desc>"`` contains this substring.
        level: the highest ``level`` to run (``HYBRIDSE_LEVEL``).
        verbose: print one line per failing case under its file's line.
        out: where to print (nothing is printed if ``None``).
        progress: called with each outcome as it is produced.

    Returns:
        The outcomes and warnings (stale skip-list entries); the final summary line is left to the caller.
    """
    skiplist = skiplist or SkipList()
    report = Report()
    seen: set[tuple[str, str]] = set()
    loaded_files: set[str] = set()
    foreign: dict[str, list[tuple[Path, list[Case]]]] = {}
    for path in files:
        file = relative_case_file(path)
        loaded_files.add(file)
        file_outcomes: list[Outcome] = []
        try:
            cases = load_case_file(path)
        except CaseFormatError as exc:
            cases = []
            if name_filter is None or name_filter in f"{file}:<file>":
                seen.add((file, "<file>"))
                for mode in modes:
                    reason = f"cannot load: {_one_line(str(exc))}"
                    # An upstream file that does not parse can be skip-listed as a whole, with id '<file>'.
                    entry = skiplist.lookup(file, "<file>", mode)
                    status: Status = "failed" if entry is None else "skipped"
                    reason = reason if entry is None else f"skip list: {entry.reason} ({reason})"
                    skipped_for = None if entry is None else entry.reason
                    file_outcomes.append(Outcome(file, "<file>", "", mode, status, reason, skiplist=skipped_for))
        kinds: set[str] = {case.kind for case in cases}
        if len(kinds) == 1 and (file_kind := next(iter(kinds))) in FILE_RUNNERS:
            foreign.setdefault(file_kind, []).append((path, cases))  # run with the other files of its kind, below
            continue
        for case in cases:
            if name_filter is not None and name_filter not in f"{case.file}:{case.id} {case.desc}":
                continue
            seen.add((case.file, case.id))
            for mode in modes:
                outcome = run_case(case, mode, engine, skiplist, level)
                file_outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
        _file_done(report, file, file_outcomes, out, verbose)
    for foreign_kind, group in foreign.items():
        by_file = _run_foreign(foreign_kind, group, modes, skiplist, level, name_filter)
        for file, file_outcomes in by_file.items():
            seen.update((o.file, o.id) for o in file_outcomes)
            if progress is not None:
                for outcome in file_outcomes:
                    progress(outcome)
            _file_done(report, file, file_outcomes, out, verbose)
    if name_filter is None:
        for entry in skiplist.entries:
            if entry.file in loaded_files and (entry.file, entry.id) not in seen:
                report.warnings.append(f"WARNING: stale skip-list entry: {entry.file} id {entry.id} matches no case")
    return report


def _run_foreign(
    kind: str,
    group: Sequence[tuple[Path, Sequence[Case]]],
    modes: Sequence[Mode],
    skiplist: SkipList,
    level: int,
    name_filter: str | None,
) -> dict[str, list[Outcome]]:
    """Run the files of a kind :data:`FILE_RUNNERS` registers, in one call of its runner; each outcome in every
    mode. If the runner cannot be had or crashes, every case of the files fails with the reason."""
    by_file: dict[str, list[Outcome]] = {relative_case_file(path): [] for path, _ in group}
    try:
        runner = file_runner(kind)
        foreign = list(runner([path for path, _ in group], name_filter=name_filter).outcomes)
    except Exception as exc:  # LookupError, or a bug of the runner: every case of these files fails with it
        reason = str(exc) if isinstance(exc, LookupError) else _crash(exc)
        for _, cases in group:
            for case in cases:
                if name_filter is not None and name_filter not in f"{case.file}:{case.id} {case.desc}":
                    continue
                for mode in modes:
                    skipped = upstream_skip(case, mode, level)
                    status: Status = "skipped" if skipped else "failed"
                    by_file[case.file].append(Outcome(case.file, case.id, case.desc, mode, status, skipped or reason))
        return by_file
    for item in foreign:
        for mode in modes:
            outcome = Outcome(
                item.file,
                item.id,
                item.desc,
                mode,
                "passed" if item.status == "passed" else "failed",
                "" if item.status == "passed" else item.reason,
                round(item.seconds, 6),
            )
            entry = skiplist.lookup(item.file, item.id, mode)
            if entry is not None:
                outcome.skiplist = entry.reason
                if outcome.status == "failed":
                    outcome.status = "skipped"
                    outcome.reason = f"skip list: {entry.reason} (still fails: {outcome.reason})"
            by_file.setdefault(item.file, []).append(outcome)
    return by_file


def _file_done(report: Report, file: str, file_outcomes: list[Outcome], out: TextIO | None, verbose: bool) -> None:
    """Add a file's outcomes to the report, warn about its stale skip-list entries, print its counts."""
    # An entry is stale when every case it covers passes (upstream files repeat some ids).
    covered: dict[tuple[str, str, str], list[Outcome]] = {}
    for o in file_outcomes:
        if o.skiplist is not None:
            covered.setdefault((o.file, o.id, o.mode), []).append(o)
    for (cfile, cid, cmode), outs in covered.items():
        if all(o.status == "passed" for o in outs):
            report.warnings.append(
                f"WARNING: stale skip-list entry: {cfile} id {cid} passes in {cmode} mode"
                f" (entry reason: {outs[0].skiplist})"
            )
    report.outcomes.extend(file_outcomes)
    if out is not None and file_outcomes:
        counts = {s: sum(1 for o in file_outcomes if o.status == s) for s in ("passed", "failed", "skipped")}
        print(f"{file}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped", file=out)
        if verbose:
            for o in file_outcomes:
                if o.status == "failed":
                    print(f"  FAILED [{o.mode}] {o.id} {o.desc!r}: {o.reason}", file=out)
        out.flush()


def write_json(report: Report, path: Path) -> None:
    """Write every outcome as a JSON list of ``{file, id, desc, mode, status, reason, seconds, skiplist}``."""
    path.write_text(
        json.dumps([asdict(o) for o in report.outcomes], ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


# ---------------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------------

USAGE_ERROR = 2


def _spark_engine() -> Engine:
    """``openfeat_core.compute`` on the Spark backend (``OPENFEAT_BACKEND=spark`` for this process), in a local[2]
    session stopped when the process exits."""
    import atexit

    from openfeat_core.engine.backend import BACKEND_ENV
    from openfeat_core.engine.spark.session import local_session

    session = local_session(2, app="openfeat-conformance")
    atexit.register(session.stop)
    os.environ[BACKEND_ENV] = "spark"
    return load_engine()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m openfeat_core.conformance",
        description="Run OpenMLDB conformance case files through OpenFeat and compare with the expected results.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="case files or directories (recursed)")
    parser.add_argument("--mode", choices=("batch", "request", "both"), default="batch", help="default: batch")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every case's outcome to FILE as JSON")
    parser.add_argument(
        "--skiplist",
        type=Path,
        metavar="FILE",
        help=f"known failures (default: {DEFAULT_SKIPLIST} if it exists)",
    )
    parser.add_argument("--filter", metavar="SUBSTRING", help="run only cases whose 'FILE:ID DESC' contains it")
    parser.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="batch backend: local (default) or spark (a local[2] session; batch mode only; openfeat[spark])",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per failing case")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    engine: Engine | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command line: run the cases, print per-file counts and the summary line.

    Args:
        argv: arguments (default ``sys.argv[1:]``).
        engine: the engine to call (default: :func:`load_engine`); tests pass a stub.
        out: where the report goes (default stdout).
        err: where usage errors go (default stderr).

    Returns:
        0 if no case failed, 1 if some did, 2 on a usage error (bad arguments, missing paths or skip list, or a
        requested mode the engine does not provide).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)

    def usage_error(message: str) -> int:
        print(f"error: {message}", file=err)
        return USAGE_ERROR

    try:
        files = find_case_files(args.paths)
    except FileNotFoundError as exc:
        return usage_error(str(exc))
    if not files:
        return usage_error("no case files (*.yaml) found under " + ", ".join(map(str, args.paths)))
    skiplist_path = (
        args.skiplist if args.skiplist is not None else (DEFAULT_SKIPLIST if DEFAULT_SKIPLIST.is_file() else None)
    )
    try:
        skiplist = SkipList.load(skiplist_path) if skiplist_path is not None else SkipList()
        level = hybridse_level()
    except ValueError as exc:
        return usage_error(str(exc))

    if engine is None:
        try:
            engine = load_engine()
        except EngineImportError as exc:
            print(f"error: {exc}", file=err)
            return 1
    if args.engine == "spark":
        if args.mode != "batch":
            return usage_error("--engine spark runs batch mode only (request mode is served by the local engine)")
        engine = _spark_engine()
    modes: list[Mode] = ["batch", "request"] if args.mode == "both" else [args.mode]
    notes = []
    if "batch" in modes and engine.compute is None:
        return usage_error("openfeat_core has no compute(): the batch engine is not available")
    if "request" in modes and engine.request_replay is None:
        if args.mode == "request":
            return usage_error("openfeat_core has no request_replay(): request mode is not available yet")
        modes = ["batch"]
        notes.append("NOTE: request mode unavailable (openfeat_core has no request_replay()); ran batch mode only")

    report = run_files(
        files, modes, engine, skiplist=skiplist, name_filter=args.filter, level=level, verbose=args.verbose, out=out
    )
    if args.json is not None:
        write_json(report, args.json)
    for line in [*notes, *report.warnings]:
        print(line, file=out)
    print(report.summary, file=out)
    return 1 if report.count("failed") else 0
