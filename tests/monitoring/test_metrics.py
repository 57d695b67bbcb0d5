"""``/metrics`` follows Prometheus' conventions and says what the service did (parsed with prometheus_client's
parser, linted with ``promtool check metrics``); the alert rules pass ``promtool check rules`` and ``promtool test
rules`` (tests/monitoring/alerts_test.yml: synthetic series for every alert); every dashboard expression is valid
PromQL and reads metrics the service exports. The real scrape by a Prometheus server: test_scrape.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families
from unit.test_online_service import call

from openfeat_core.monitoring.reference import profile_of
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.metrics import LATENCY_BUCKETS, ServingDrift
from openfeat_core.server.service import create_app

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "monitoring" / "grafana" / "openfeat-dashboard.json"
ALERTS = ROOT / "monitoring" / "prometheus" / "alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)"
)

SCHEMA = "card bigint, ts timestamp, amount double, shop string"
SQL = (
    "SELECT card, amount, shop, sum(amount) OVER w AS total FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)
#: Rows sent as one feature request: amounts shifted from the training set's, shops drawn alike.
SERVED = 200


def _training_profile() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n = 5_000
    table = pa.table(
        {
            "card": rng.integers(0, 50, n),
            "amount": rng.normal(50, 10, n),
            "shop": rng.choice(["a", "b", "c"], n),
            "total": rng.normal(100, 30, n),
        }
    )
    return profile_of(table.to_batches(), table.schema, n, ["card", "amount", "shop", "total"], {"kind": "file"})


def _served_rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    return [
        {"card": int(rng.integers(0, 50)), "ts": 10_000 + i, "amount": float(rng.normal(80, 10)), "shop": "abc"[i % 3]}
        for i in range(SERVED)
    ]


def metrics_text(tmp_path: Path) -> str:
    """The /metrics of a durable store's service after requests, an insert and a verify."""
    store = OnlineStore(tmp_path / "store")
    store.create_table("tx", SCHEMA)
    store.deploy("f", SQL)
    store.set_reference("f", _training_profile())
    store.log_requests(1.0)
    app = create_app(store)
    try:
        assert call(app, "PUT", "/dbs/db/tables/tx", {"value": [[1, 1_000, 5.0, "a"]]}).status == 200
        assert call(app, "POST", "/dbs/db/deployments/f", {"input": _served_rows()}).status == 200
        assert call(app, "POST", "/dbs/db/deployments/f", {"input": [[1, "x", 1.0, "a"]]}).status == 400
        assert call(app, "POST", "/dbs/db/deployments/f/verify", {}).status == 200
        response = call(app, "GET", "/metrics")
        assert response.status == 200
        return response.body.decode()
    finally:
        app.close()
        store.close()


def _samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_metrics_follow_prometheus_conventions(tmp_path: Path) -> None:
    text = metrics_text(tmp_path)
    families = list(text_string_to_metric_families(text))
    for family in families:
        assert family.documentation, f"{family.name}: no HELP"
        names = {s.name for s in family.samples}
        if family.type == "counter":
            assert all(n.endswith("_total") for n in names), names
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        assert not re.search(r"_(ms|milliseconds|kb|mb|percent)\b", family.name), f"{family.name}: not a base unit"
    samples = _samples(text)
    # bounded labels: no label value comes from a request's contents
    assert not any(v == "x" for series in samples.values() for labels in series for _, v in labels)

    (build,) = samples["openfeat_build_info"].items()
    assert build[1] == 1 and dict(build[0])["version"]
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert samples[name][()] > 0, name
    assert samples["process_start_time_seconds"][()] > 1.7e9

    # the latency buckets resolve the sub-millisecond target
    assert sum(1 for b in LATENCY_BUCKETS if b < 0.001) >= 5
    f = (("deployment", "f"),)
    assert samples["openfeat_deployment_requests_total"][f] == 2
    assert samples["openfeat_deployment_errors_total"][f] == 1
    assert samples["openfeat_deployment_request_rows_total"][f] == SERVED + 1
    assert samples["openfeat_deployment_request_duration_seconds_count"][f] == 2
    assert samples["openfeat_table_rows_inserted_total"][(("table", "tx"),)] == 1
    assert samples["openfeat_wal_append_duration_seconds_count"][()] == 1  # the insert: since the service started

    # consistency: the verify of the logged request found no difference
    assert samples["openfeat_online_offline_mismatch_ratio"][f] == 0
    assert samples["openfeat_verify_values_total"][f] == SERVED * 4
    # drift: the served amounts moved 3 standard deviations, the shops are drawn as in training
    psi = {dict(k)["feature"]: v for k, v in samples["openfeat_serving_feature_psi"].items()}
    assert psi["amount"] > 1.0 and psi["shop"] < 0.1, psi
    assert samples["openfeat_serving_drift_window_rows"][f] == SERVED


@needs_promtool
def test_promtool_checks_the_metrics(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=metrics_text(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr


def test_the_drift_window_moves_and_forgets_old_slots() -> None:
    drift = ServingDrift(window_seconds=20, slot_seconds=10)
    profile = _training_profile()
    drift.set_references({"f": profile["bins"]})
    store = OnlineStore()
    store.create_table("tx", SCHEMA)
    store.deploy("f", SQL)
    names, columns = store.request_columns("f", _served_rows())
    drift.served("f", names, columns)
    psi, rows, dropped = drift.figures()
    assert rows == {"f": SERVED} and dropped == {} and psi[("f", "amount")] > 1.0
    # a slot older than the window is dropped: nothing served since, nothing counted
    slots = drift._slots["f"][1]
    slots[0] = (slots[0][0] - 3, slots[0][1])
    psi, rows, _ = drift.figures()
    assert rows == {"f": 0} and psi == {}
    # a new reference starts a new window; a deployment without one is not watched
    drift.served("f", names, columns)
    assert drift.figures()[1] == {"f": SERVED}
    changed = {**profile["bins"], "features": {"amount": profile["bins"]["features"]["amount"]}}
    drift.watch("f", changed)
    assert drift.figures()[1] == {"f": 0}
    drift.set_references({})
    assert not drift.watches("f") and drift.figures() == ({}, {}, {})


@needs_promtool
def test_alert_rules_pass_promtool(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    checked = subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [PROMTOOL, "test", "rules", str(Path(__file__).with_name("alerts_test.yml"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = set(re.findall(r"^\s+- alert: (\w+)$", ALERTS.read_text(), re.M))
    tested_alerts = set(re.findall(r"alertname: (\w+)", Path(__file__).with_name("alerts_test.yml").read_text()))
    assert alerts == tested_alerts, alerts ^ tested_alerts


@needs_promtool
def test_the_example_prometheus_configuration_is_valid(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    token = tmp_path / ".token"
    token.write_text("secret\n")
    example = (ALERTS.parent / "prometheus.yml").read_text()
    assert "/var/lib/openfeat/store/.token" in example  # the path an operator edits: here, a file that exists
    (tmp_path / "prometheus.yml").write_text(example.replace("/var/lib/openfeat/store/.token", str(token)))
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def dashboard_expressions() -> list[tuple[str, str]]:
    """Every panel's ``(title, expression)``, with Grafana's variables as a query for them would be sent."""
    dashboard = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable in ("instance", "deployment", "table"):
                expr = expr.replace(f"${variable}", ".*")
            out.append((panel["title"], expr.replace("$__rate_interval", "15s")))
    return out


def test_the_dashboard_has_its_rows_a_datasource_variable_and_known_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Overview", "Serving", "Tables", "Ingest", "WAL", "Consistency", "Drift"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource" and variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            assert panel["targets"], panel["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    # every metric a panel reads is one the service exports (the stream families: those a consumer reports)
    exported = set(_samples(metrics_text(tmp_path))) | {
        "openfeat_stream_events_total",
        "openfeat_stream_lag_messages",
        "openfeat_stream_position",
        "openfeat_stream_dead_letters_total",
        *(f"openfeat_stream_freshness_seconds_{s}" for s in ("bucket", "count", "sum")),
    }
    for title, expr in dashboard_expressions():
        for metric in re.findall(r"\b((?:openfeat|process)_[a-z_]+)\b", expr):
            assert metric in exported, f"{title}: {metric} is not exported"


@needs_promtool
def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expression_{i}", "expr": e}
                    for i, (_, e) in enumerate(dashboard_expressions())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    checked = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
