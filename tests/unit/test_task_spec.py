"""openfeat_core.tasks.spec: the task arguments read from the request dataclasses (what the adapters' contract
tests hold their parameters to)."""

from __future__ import annotations

import dataclasses

import pytest

from openfeat_core import choices
from openfeat_core.streaming.formats import MESSAGE_FORMATS
from openfeat_core.tasks import RESULT_CLASSES, ExportRequest, IngestRequest
from openfeat_core.tasks.spec import REQUIRED, task_spec, task_specs


def test_one_spec_per_task_with_every_field() -> None:
    specs = task_specs()
    assert list(specs) == ["ingest", "compute", "export", "deploy", "verify", "ingest-stream", "monitor"]
    assert set(specs) == set(RESULT_CLASSES)
    for spec in specs.values():
        assert list(spec.arguments) == [f.name for f in dataclasses.fields(spec.request)]  # type: ignore[arg-type]


def test_defaults_choices_and_docs_come_from_the_dataclass() -> None:
    export = task_spec("export")
    assert export.request is ExportRequest
    assert export.argument("table").required and export.argument("table").default is REQUIRED
    assert export.argument("mode").default == "overwrite"
    assert export.argument("mode").choices == choices.WRITE_MODES
    # Literal[...] | None: the choices of the Literal; None is allowed
    assert export.argument("format").choices == choices.EXPORT_FORMATS and export.argument("format").optional
    assert export.argument("quote").doc == 'CSV quote character (``""``: never quote).'
    assert export.defaults()["buckets"] == ExportRequest.__dataclass_fields__["buckets"].default
    # a default_factory is called; a multi-line docstring entry is one line
    compute = task_spec("compute")
    assert compute.argument("inputs").default == {}
    assert "\n" not in compute.argument("inputs").doc and "latest version" in compute.argument("inputs").doc
    assert task_spec("ingest").argument("on_error").choices == choices.ON_ERROR
    assert task_spec("ingest").request is IngestRequest
    assert task_spec("ingest-stream").argument("message_format").choices == MESSAGE_FORMATS


def test_every_argument_is_documented() -> None:
    undocumented = [f"{t}.{a.name}" for t, s in task_specs().items() for a in s.arguments.values() if not a.doc]
    assert not undocumented
    # a field described inside another's entry points there
    assert task_spec("ingest-stream").argument("workspace_every_rows").doc.startswith("(see workspace) ")


def test_unknown_names_list_what_exists() -> None:
    with pytest.raises(KeyError, match="no task 'train'; the tasks: ingest, compute"):
        task_spec("train")
    with pytest.raises(KeyError, match="has no argument 'label_column'; its arguments: table, workspace"):
        task_spec("export").argument("label_column")
