"""Test data of the kfp tests (a module of its own: ``conftest`` is also the name of tests/conftest.py)."""

from pathlib import Path

#: Schema of the small card transactions the component tests ingest.
TX_SCHEMA = "tx_id bigint, card bigint, ts timestamp, amount double, merchant string"

TX_ROWS = [
    (1, 7, "2024-01-01 00:00:00", 12.5, "grocery"),
    (2, 7, "2024-01-01 01:00:00", 30.0, "fuel"),
    (3, 9, "2024-01-01 02:00:00", 7.25, "grocery"),
    (4, 7, "2024-01-01 03:00:00", 99.0, "travel"),
    (5, 9, "2024-01-01 04:00:00", 5.0, "online"),
    (6, 9, "2024-01-01 05:00:00", 41.0, "fuel"),
]

#: A feature script over the transactions.
FEATURES_SQL = """SELECT tx_id, card, ts, amount,
    sum(amount) OVER w AS amount_sum_2h,
    count(amount) OVER w AS tx_count_2h
FROM tx
WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 2h PRECEDING AND CURRENT ROW)"""


def write_transactions(path: Path, rows: list[tuple[object, ...]] = TX_ROWS) -> Path:
    """The transactions as a CSV file with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["tx_id,card,ts,amount,merchant", *(",".join(str(v) for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
