"""The app store's operations on PostgreSQL vs SQLite, as ratios within one run.

Three operations, each through the app's own classes (not raw SQL), on a fresh SQLite data
directory and on a fresh schema of the PostgreSQL at ``--database-url`` (default: the one
``scripts/postgres.sh`` runs):

* **login** — what a login costs the store: the user and password hash read, the failed-login
  record cleared, a session created, then the session read back as the next page does. The
  argon2 check itself (~0.3 s of CPU, the same on both) is left out so the store's part shows.
* **case save** — a lawyer's edit saved as a new version (read, version row, case row, event,
  one transaction), through ``CaseService.update``.
* **log write** — one search logged (redaction, tagging, the committed record) on the caller's
  thread, through ``QueryLog.log_search``: what every search adds before its answer leaves.

The rounds alternate between the databases (SQLite, PostgreSQL, SQLite …) so machine noise
hits both alike; each figure is the median over rounds of the per-operation mean. Also run with
``--threads N``: N threads doing the operation at once (throughput, ops/s).

Usage: .venv/bin/python bench/store_ops.py [--ops 300] [--rounds 5] [--threads 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO

CASE = {
    "title": "餐饮公司拖欠工资后劳动者解除劳动合同案",
    "court": "北京市第一中级人民法院",
    "judgment_date": "2022-06-15",
    "gist": "用人单位未及时足额支付劳动报酬的，劳动者可以解除劳动合同并要求支付经济补偿。",
    "facts": "张某在某餐饮公司工作三年，公司连续四个月拖欠工资，张某书面通知解除劳动合同。",
    "reasoning": "依照《劳动合同法》第三十八条、第四十六条的规定，公司应当支付经济补偿。",
}
QUESTIONS = ["老板拖欠工资怎么办", "试用期被辞退有补偿吗", "加班费怎么算", "深圳华强电子厂欠薪怎么办"]


class Backend:
    """One store (SQLite files in a temp dir, or a fresh PostgreSQL schema) with the app's objects."""

    def __init__(self, name: str, data_dir: Path, database_url: str | None):
        from search_api import db
        from search_api.accounts.store import Store
        from search_api.cases.workflow import CaseService
        from search_api.monitoring.querylog import QueryLog
        from search_api.settings import Settings

        self.name = name
        self.settings = Settings(
            data_dir=data_dir, database_url=database_url, secret_key="bench", semantic=False, engine="sqlite"
        )
        self.store = Store(db.app_database(self.settings))
        self.cases = CaseService(self.store.cases)
        self.querylog = QueryLog(self.settings)
        self.lawyer = self.store.users.get(self.store.users.create("lawyer1", "correct horse battery", "lawyer").id)
        self.case_id = self.cases.create(self.lawyer, CASE).id

    def login(self, i: int) -> None:
        found = self.store.users.with_hash("lawyer1")
        assert found is not None
        self.store.users.throttle.succeeded("lawyer1", f"10.0.{i % 250}.0/24")
        token, _csrf = self.store.sessions.create(found[0].id, 3600)
        assert self.store.sessions.get(token) is not None

    def case_save(self, i: int) -> None:
        self.cases.update(self.lawyer, self.case_id, {**CASE, "facts": f"{CASE['facts']}（第{i}次修改）"})

    def log_write(self, i: int) -> None:
        self.querylog.log_search(
            q=f"{QUESTIONS[i % len(QUESTIONS)]} {i}",
            tokens=["拖欠", "工资"],
            engine="sqlite",
            total=12,
            top_ids=["labor-contract-law.38"],
            took_ms=8.0,
            client_ip=f"10.{i % 200}.1.9",
            user_agent="Mozilla/5.0 (Linux; Android 13) Chrome/120.0 Mobile",
        )

    def close(self) -> None:
        self.querylog.close()


def _timed(op: Callable[[int], None], n: int, threads: int) -> tuple[float, float]:
    """(mean seconds per op on one thread, ops/s with ``threads`` threads)."""
    start = time.perf_counter()
    for i in range(n):
        op(i)
    mean = (time.perf_counter() - start) / n
    per = max(1, n // threads)

    def worker(offset: int) -> None:
        for i in range(per):
            op(offset + i)

    pool = [threading.Thread(target=worker, args=(10_000 * (t + 1),)) for t in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return mean, per * threads / (time.perf_counter() - start)


def _pg_schema_url(server_url: str) -> str:
    import psycopg

    sys.path.insert(0, str(REPO))
    from tests.pg import url_with_schema

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return url_with_schema(server_url, schema)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--database-url", default=None, help="a PostgreSQL server URL (default: scripts/postgres.sh url)")
    args = ap.parse_args()
    server = (
        args.database_url
        or subprocess.check_output(["bash", str(REPO / "scripts" / "postgres.sh"), "url"], text=True).strip()
    )
    tmp = Path(tempfile.mkdtemp(prefix="store-ops-"))
    backends = [Backend("sqlite", tmp / "sqlite", None), Backend("postgresql", tmp / "pg", _pg_schema_url(server))]
    ops = ("login", "case_save", "log_write")
    means: dict[tuple[str, str], list[float]] = {}
    rates: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.rounds):
            for backend in backends:
                for op in ops:
                    mean, rate = _timed(getattr(backend, op), args.ops, args.threads)
                    means.setdefault((backend.name, op), []).append(mean)
                    rates.setdefault((backend.name, op), []).append(rate)
    finally:
        for backend in backends:
            backend.close()
    report = {"ops": args.ops, "rounds": args.rounds, "threads": args.threads, "results": {}}
    for op in ops:
        row = {}
        for name in ("sqlite", "postgresql"):
            row[f"{name}_ms"] = round(statistics.median(means[(name, op)]) * 1000, 3)
            row[f"{name}_ops_per_s_{args.threads}_threads"] = round(statistics.median(rates[(name, op)]), 1)
        row["pg_over_sqlite_latency"] = round(row["postgresql_ms"] / row["sqlite_ms"], 2)
        key = f"_ops_per_s_{args.threads}_threads"
        row["pg_over_sqlite_throughput"] = round(row["postgresql" + key] / row["sqlite" + key], 2)
        report["results"][op] = row
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
