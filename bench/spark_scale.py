"""Scale: a W1 job larger than the single-machine engine's memory, run on Spark ``local[N]`` (issue 15).

The W1 workload of bench/offline.py (card transactions, 1d/7d/30d windows, 12 aggregates, a point-in-time LAST
JOIN onto ``card_profile``) at ``--rows`` transactions (default 120M), generated in independent chunks of
``--chunk-rows`` (each chunk its own cards, written as one Parquet file of a directory, so generation memory stays
bounded). Then, each in a subprocess of its own:

* ``--local``: OpenFeat's single-machine engine on the same directories, inside a memory cgroup limited to
  ``--local-limit-gib`` (default 22: the machine's 24 GiB less what the system holds), to show that the job does
  not fit: the run ends with the cgroup's out-of-memory kill (or a MemoryError), and its peak is reported;
* ``--cores 2,1``: the job on Spark ``local[N]`` for each N, the whole result written to Spark's ``noop`` sink
  (unordered: sorting 120M result rows back into input order needs a checkpoint and a shuffle of the whole result,
  about 40 GB of local disk at this size), with the peak resident memory of the Spark JVM and its Python workers
  (sampled every 0.5 s over the process tree) and the wall time.

    python bench/spark_scale.py --workdir /tmp/w1-120m --local --cores 2,1 --json scale.json
    python bench/spark_scale.py --rows 4000000 --chunk-rows 2000000 --cores 2   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from offline import W1_OPENFEAT_SQL, generate_w1  # noqa: E402

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


def generate(workdir: Path, rows: int, chunk_rows: int, keys_per_chunk: int, days: int, seed: int) -> None:
    """Write ``tx/part-NNNN.parquet`` and ``card_profile/part-NNNN.parquet`` chunk by chunk (skipped when present)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    done = workdir / "generated.json"
    if done.exists() and json.loads(done.read_text()) == {"rows": rows, "chunk_rows": chunk_rows, "seed": seed}:
        print(f"data: reusing {workdir}")
        return
    (workdir / "tx").mkdir(parents=True, exist_ok=True)
    (workdir / "card_profile").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for c, start in enumerate(range(0, rows, chunk_rows)):
        n = min(chunk_rows, rows - start)
        tx, profile = generate_w1(n, keys_per_chunk, n // 10, days, seed + c)
        card_offset = pa.scalar(c * keys_per_chunk, pa.int64())
        tx = tx.set_column(0, "tx_id", pc.add(tx.column("tx_id"), pa.scalar(start, pa.int64())))
        tx = tx.set_column(1, "card", pc.add(tx.column("card"), card_offset))
        profile = profile.set_column(0, "card", pc.add(profile.column("card"), card_offset))
        pq.write_table(tx, workdir / "tx" / f"part-{c:04d}.parquet")
        pq.write_table(profile, workdir / "card_profile" / f"part-{c:04d}.parquet")
        print(f"data: chunk {c}: {start + n:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    done.write_text(json.dumps({"rows": rows, "chunk_rows": chunk_rows, "seed": seed}))


# --------------------------------------------------------------------------------------------- memory sampling
def _tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(statm[1]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class PeakSampler:
    """The peak of :func:`_tree_rss_bytes` over a subprocess's life, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _tree_rss_bytes(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


# --------------------------------------------------------------------------------------------- the runs
def run_local(workdir: Path, limit_gib: float) -> dict[str, Any]:
    """The single-machine engine in a memory cgroup of ``limit_gib``: does the job fit?"""
    cgroup = CGROUP_ROOT / f"openfeat-bench-{os.getpid()}"
    cgroup.mkdir()
    try:
        (cgroup / "memory.limit_in_bytes").write_text(str(int(limit_gib * 2**30)))
        code = (
            "import os, sys, time\n"
            f"open({str(cgroup / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
            "import openfeat_core\n"
            "t0 = time.perf_counter()\n"
            f"r = openfeat_core.compute({W1_OPENFEAT_SQL!r}, "
            f"{{'tx': {str(workdir / 'tx')!r}, 'card_profile': {str(workdir / 'card_profile')!r}}})\n"
            "print(r.num_rows, time.perf_counter() - t0)\n"
        )
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = PeakSampler(proc.pid)
        out, err = proc.communicate()
        peak_rss = sampler.stop()
        seconds = time.perf_counter() - t0
        peak = int((cgroup / "memory.max_usage_in_bytes").read_text())  # (page cache included)
        oom = "oom_kill 1" in (cgroup / "memory.oom_control").read_text() or proc.returncode == -9
        result = {
            "limit_gib": limit_gib,
            "returncode": proc.returncode,
            "completed": proc.returncode == 0,
            "out_of_memory": oom or "MemoryError" in err,
            "peak_rss_gib": peak_rss / 2**30,
            "cgroup_peak_gib": peak / 2**30,
            "seconds": seconds,
            "stdout": out.strip()[-500:],
            "stderr_tail": err.strip()[-800:],
        }
    finally:
        cgroup.rmdir()
    return result


SPARK_JOB = """
import json, sys, time
sys.path.insert(0, {here!r})
from offline import W1_OPENFEAT_SQL
from openfeat_core.engine.spark import SparkOptions, compute
from openfeat_core.engine.spark.session import local_session
spark = local_session({cores}, app="openfeat-scale", configs={{"spark.driver.memory": {driver_memory!r},
    "spark.local.dir": {local_dir!r}}})
try:
    tables = {{"tx": {tx!r}, "card_profile": {profile!r}}}
    t0 = time.perf_counter()
    df = compute(W1_OPENFEAT_SQL, tables, spark=spark, options=SparkOptions(preserve_order=False,
        partitions={partitions}))
    df.write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - t0
    rows = spark.read.parquet({tx!r}).count()
    print(json.dumps({{"seconds": seconds, "input_rows": rows}}))
finally:
    spark.stop()
"""


def run_spark(workdir: Path, cores: int, partitions: int, driver_memory: str) -> dict[str, Any]:
    local_dir = workdir / "spark-local"
    local_dir.mkdir(exist_ok=True)
    code = SPARK_JOB.format(
        here=str(HERE),
        cores=cores,
        driver_memory=driver_memory,
        local_dir=str(local_dir),
        tx=str(workdir / "tx"),
        profile=str(workdir / "card_profile"),
        partitions=partitions,
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = PeakSampler(proc.pid)
    out, err = proc.communicate()
    peak = sampler.stop()
    result: dict[str, Any] = {
        "cores": cores,
        "returncode": proc.returncode,
        "process_seconds": time.perf_counter() - t0,
        "peak_rss_gib": peak / 2**30,
        "partitions": partitions,
        "driver_memory": driver_memory,
    }
    if proc.returncode == 0:
        result.update(json.loads(out.strip().splitlines()[-1]))
    else:
        result["stderr_tail"] = err.strip()[-1500:]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=120_000_000)
    parser.add_argument("--chunk-rows", type=int, default=10_000_000)
    parser.add_argument("--keys-per-chunk", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, required=True, help="where the data (and Spark's shuffle files) go")
    parser.add_argument("--local", action="store_true", help="also try the single-machine engine (in a cgroup)")
    parser.add_argument("--local-limit-gib", type=float, default=22.0)
    parser.add_argument("--cores", default="2", help="comma list of local[N] runs (default 2)")
    parser.add_argument("--partitions", type=int, default=64, help="shuffle partitions (default 64)")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    generate(args.workdir, args.rows, args.chunk_rows, args.keys_per_chunk, args.days, args.seed)
    report: dict[str, Any] = {"rows": args.rows, "chunk_rows": args.chunk_rows, "runs": []}
    if args.local:
        local = run_local(args.workdir, args.local_limit_gib)
        report["local"] = local
        print(f"local engine (cgroup limit {args.local_limit_gib} GiB): {json.dumps(local)}", flush=True)
    for cores in (int(c) for c in args.cores.split(",")):
        run = run_spark(args.workdir, cores, args.partitions, args.driver_memory)
        report["runs"].append(run)
        print(f"spark local[{cores}]: {json.dumps(run)}", flush=True)
    times = {r["cores"]: r.get("seconds") for r in report["runs"] if r["returncode"] == 0}
    if 1 in times and 2 in times and times[1] and times[2]:
        report["speedup_2_vs_1"] = times[1] / times[2]
        print(f"speed-up local[2] vs local[1]: {report['speedup_2_vs_1']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
