"""Each choice of the task options is spelled once (openfeat_core.choices); the CLI and the tasks read it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from openfeat_core import choices, tasks
from openfeat_core.cli import app
from openfeat_core.tasks import InvalidRequest

_REQUIRED = {"ingest": ["x.csv", "--table", "t"], "export": ["t", "--path", "x.csv"]}


def _cli_choices(command: str, option: str) -> str:
    """What the command line says when ``option`` gets a value it does not offer."""
    result = CliRunner().invoke(app, [command, *_REQUIRED[command], option, "nope"])
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("command", "option", "values"),
    [
        ("ingest", "--format", choices.SOURCE_FORMATS),
        ("ingest", "--on-error", choices.ON_ERROR),
        ("ingest", "--mode", choices.WRITE_MODES),
        ("ingest", "--timestamp-unit", choices.TIMESTAMP_UNIT_CHOICES),
        ("ingest", "--extra-columns", choices.EXTRA_COLUMNS),
        ("export", "--format", choices.EXPORT_FORMATS),
        ("export", "--mode", choices.WRITE_MODES),
        ("export", "--timestamp-format", choices.TIMESTAMP_FORMATS),
    ],
)
def test_the_command_line_offers_the_core_choices(command: str, option: str, values: tuple[str, ...]) -> None:
    assert f"is not one of {', '.join(map(repr, values))}." in _cli_choices(command, option)


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("mode", choices.WRITE_MODES),
        ("on_error", choices.ON_ERROR),
        ("timestamp_unit", choices.TIMESTAMP_UNIT_CHOICES),
        ("extra_columns", choices.EXTRA_COLUMNS),
        ("format", choices.SOURCE_FORMATS),
    ],
)
def test_the_ingest_task_refuses_a_value_outside_the_core_choices(
    field: str, values: tuple[str, ...], tmp_path: object
) -> None:
    request = tasks.IngestRequest("x.csv", "t", str(tmp_path), **{field: "nope"})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match=f"{field}.*{values[0]!r}|{field}.*{values[0]}"):
        tasks.ingest(request)
