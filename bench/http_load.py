"""HTTP load on a real `labourkb serve`: /healthz, /api/search and the result page, in one run.

For each engine and corpus scale the script ingests the corpus (×N: ``bench.common.scaled_corpus``)
into a data directory, starts ``labourkb serve --workers N`` on it, waits until every worker is
warm and listening, and then runs the load generator against three targets one after the other,
on the same server:

* ``healthz``: ``GET /healthz`` — the HTTP stack's own ceiling on this machine;
* ``api``: ``GET /api/search?q=…`` over a mix of worker questions (every ``q`` of
  ``corpus/eval/*.jsonl``), each connection walking the mix from its own starting point;
* ``html``: ``GET /search?q=…`` (the result page: facets, next steps, template) over the same mix.

Every request sends ``Accept-Encoding: gzip``, as phones do. Before the measured runs each
search target is loaded untimed until each question was asked ``--warm-passes`` times (every
question met by every worker, as on a server that has been up for a while; ``warm``); the query
log stays on, as in production.

The result cache (``LABOURKB_RESULT_CACHE_MB``, search/result_cache.py) holds the whole mix after
the warm-up, so with it on the measured runs are questions asked again. Run once more with
``LABOURKB_RESULT_CACHE_MB=0`` in the environment (the server inherits it) for questions met for
the first time; report both.

The load generator is wrk (https://github.com/wg/wrk; Debian/Ubuntu: ``apt-get install -y wrk``):
a C event loop whose own cost is negligible next to a Python server's, so the numbers are the
server's. Its Lua hooks pick each request's path and report exact p50/p99 per run. The script
stops with a message saying how to install it when it is missing.

Compare within one run (ratios): the machine is shared. Usage:

    .venv/bin/python bench/http_load.py [--scale 1 20] [--engine sqlite elasticsearch]
        [--workers 2] [--connections 16] [--duration 20] [--data-root DIR] [--semantic] [--json]

``--engine elasticsearch`` starts the local node (``scripts/elasticsearch.sh start``, port 9250)
unless ``LABOURKB_ES_URL`` answers, and stops it afterwards if this script started it.
``--data-root`` keeps the ingested data directories (and Elasticsearch indices) for the next
run; without it everything is made in a temporary directory and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, REPO, scaled_corpus
from bench.search_latency import build_index, free_port, prefill_vectors, server_env, settings_for

EVAL = REPO / "corpus" / "eval"
TARGETS = ("healthz", "api", "html")
MAX_WARM_S = 600  # per target: a cache-off run meets every question for the first time anyway
INSTALL_WRK = (
    "wrk is needed: install it with `apt-get install -y wrk` (Debian/Ubuntu) or build it from https://github.com/wg/wrk"
)

# Each wrk thread walks the paths from its own offset; done() prints the run as one JSON line.
LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
local threads = {}
function setup(thread)
  thread:set("offset", #threads * 7919)
  threads[#threads + 1] = thread
end
function init(args)
  counter = offset or 0
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], {["Accept-Encoding"] = "gzip"})
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "bytes": %%d, "p50_us": %%d, "p99_us": %%d, "mean_us": %%f, '
    .. '"max_us": %%d, "non_2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def worker_questions() -> list[str]:
    """Every question of the evaluation sets, in file order, without repeats."""
    seen: dict[str, None] = {}
    for path in sorted(EVAL.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen[json.loads(line)["q"]] = None
    return list(seen)


def paths_file(directory: Path, target: str, questions: list[str]) -> Path:
    if target == "healthz":
        paths = ["/healthz"]
    else:
        route = "/api/search" if target == "api" else "/search"
        paths = [f"{route}?{urllib.parse.urlencode({'q': q})}" for q in questions]
    out = directory / f"{target}.paths"
    out.write_text("\n".join(paths) + "\n", encoding="utf-8")
    return out


def wrk(url: str, paths: Path, seconds: float, connections: int, threads: int) -> dict:
    """One wrk run; the JSON its done() hook printed, with req/s and ms added."""
    script = paths.with_suffix(".lua")
    script.write_text(LUA % {"paths": paths}, encoding="utf-8")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    proc = subprocess.run([*cmd, "-s", str(script), url], capture_output=True, text=True, check=True)
    line = next(ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{"))
    run = json.loads(line)
    seconds = run["duration_us"] / 1e6
    return {
        "rps": round(run["requests"] / seconds, 1),
        "p50_ms": round(run["p50_us"] / 1000, 1),
        "p99_ms": round(run["p99_us"] / 1000, 1),
        "mean_ms": round(run["mean_us"] / 1000, 1),
        "requests": run["requests"],
        "kb_per_response": round(run["bytes"] / max(1, run["requests"]) / 1024, 1),
        "errors": run["non_2xx"] + run["socket_errors"],
    }


def prepare(engine: str, scale: int, root: Path, es_url: str | None, semantic: bool):
    """Settings for ``engine`` at ``scale``, the corpus ingested once (a marker file says so)."""
    data = root / f"data-{engine}-x{scale}"
    settings = settings_for(engine, data, es_url, f"bench-http-x{scale}", semantic)
    marker = data / "bench-ingested"
    data.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        if engine == "elasticsearch":
            from search_api.engines.elasticsearch import ElasticsearchEngine

            ElasticsearchEngine(settings).drop_indices()
        corpus = scaled_corpus(root / f"corpus-x{scale}", scale) if scale > 1 else CORPUS
        t0 = time.perf_counter()
        build_index(settings, corpus)
        print(f"ingested ×{scale} into {engine} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        marker.write_text("ok\n", encoding="utf-8")
    if semantic and not (data / "bench-vectors-filled").exists():
        prefill_vectors(settings)
        (data / "bench-vectors-filled").write_text("ok\n", encoding="utf-8")
    return settings


class Server:
    """`labourkb serve --workers N` on a free port, up until every worker has started."""

    def __init__(self, settings, workers: int, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        env = {**server_env(settings), "LABOURKB_ACCESS_LOG": "false"}
        cmd = [str(REPO / ".venv/bin/labourkb"), "serve", "--port", str(self.port), "--workers", str(workers)]
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 900) -> None:
        """Each worker logs uvicorn's start-up line once warm (web.server): wait for all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"labourkb serve exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            started = self.log_path.read_text(errors="replace").count("Application startup complete")
            if started >= self.workers:
                health = json.load(urllib.request.urlopen(f"{self.url}/healthz", timeout=5))
                if health.get("semantic") != "building":
                    return
            time.sleep(0.5)
        raise SystemExit(f"labourkb serve not ready after {timeout:.0f} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def measure(settings, args, tmp: Path, questions: list[str]) -> dict:
    server = Server(settings, args.workers, tmp / f"serve-{settings.engine}.log")
    try:
        t0 = time.perf_counter()
        server.wait_ready()
        row: dict = {"start_s": round(time.perf_counter() - t0, 1), "load_before": os.getloadavg()}
        files = {t: paths_file(tmp, t, questions) for t in TARGETS}
        for t in ("api", "html"):  # untimed: every question met by every worker, as after some uptime
            row[f"warm_{t}"] = warm(server.url, files[t], args, len(questions))
        for t in TARGETS:
            row[t] = wrk(server.url, files[t], args.duration, args.connections, args.threads)
            print(json.dumps({"engine": settings.engine, "target": t, **row[t]}), file=sys.stderr, flush=True)
        row["load_after"] = os.getloadavg()
        return row
    finally:
        server.stop()


def warm(url: str, paths: Path, args, questions: int) -> dict:
    """Load ``paths`` untimed, ``args.warm`` seconds at a time, until every question was asked
    ``args.warm_passes`` times (each worker then met nearly all of them: connections are spread over
    the workers) or ``MAX_WARM_S`` have passed. A fixed time was not enough: an engine slow on a
    question met for the first time (Elasticsearch on this 2-core machine: 50-100 req/s) had met only
    part of the mix when the measured run began, which then measured the warm-up's tail."""
    asked, t0 = 0, time.perf_counter()
    while asked < args.warm_passes * questions and time.perf_counter() - t0 < MAX_WARM_S:
        asked += wrk(url, paths, args.warm, args.connections, args.threads)["requests"]
    return {"requests": asked, "s": round(time.perf_counter() - t0, 1)}


def table(results: list[dict]) -> str:
    lines = ["engine         scale  target    req/s    p50 ms   p99 ms  KB/resp  errors"]
    for r in results:
        for t in TARGETS:
            m = r[t]
            lines.append(
                f"{r['engine']:14} ×{r['scale']:<5} {t:8} {m['rps']:8.1f} {m['p50_ms']:8.1f} {m['p99_ms']:8.1f}"
                f" {m['kb_per_response']:8.1f} {m['errors']:7d}"
            )
    lines.append("")
    for r in results:
        lines.append(
            f"{r['engine']} ×{r['scale']}: api/healthz {r['api_per_healthz']:.3f}, html/api {r['html_per_api']:.2f}"
            f" (load {r['load_before'][0]:.1f} → {r['load_after'][0]:.1f}, {r['workers']} workers,"
            f" start {r['start_s']} s)"
        )
    for key, ratio in sorted({k: v for r in results for k, v in r.get("es_per_sqlite", {}).items()}.items()):
        lines.append(f"elasticsearch/sqlite {key}: {ratio:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, nargs="+", default=[1, 20])
    ap.add_argument("--engine", nargs="+", default=["sqlite", "elasticsearch"], choices=["sqlite", "elasticsearch"])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="labourkb serve --workers (CPUs)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--duration", type=float, default=20, help="seconds per measured target")
    ap.add_argument("--warm", type=float, default=10, help="untimed seconds per search target first, at least")
    ap.add_argument(
        "--warm-passes", type=int, default=8, help="… and on until each question was asked this many times (see warm)"
    )
    ap.add_argument("--data-root", type=Path, help="keep the ingested data here for the next run")
    ap.add_argument("--semantic", action="store_true", help="with the semantic retriever (bench/search_latency.py)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print(INSTALL_WRK, file=sys.stderr)
        return 2
    questions = worker_questions()
    es_url, started_es = None, False
    if "elasticsearch" in args.engine:
        from search_api.engines import es_server

        started_es = es_server.cluster_health(os.environ.get("LABOURKB_ES_URL") or es_server.local_url()) is None
        es_url = es_server.ensure_running()
    results: list[dict] = []
    try:
        with tempfile.TemporaryDirectory(prefix="labourkb-http-") as tmp:
            root = args.data_root or Path(tmp)
            root.mkdir(parents=True, exist_ok=True)
            for scale in args.scale:
                by_engine = {}
                for engine in args.engine:
                    settings = prepare(engine, scale, root, es_url, args.semantic)
                    row = {"engine": engine, "scale": scale, "workers": args.workers, "semantic": args.semantic}
                    row.update(measure(settings, args, Path(tmp), questions))
                    row["api_per_healthz"] = row["api"]["rps"] / row["healthz"]["rps"]
                    row["html_per_api"] = row["html"]["rps"] / row["api"]["rps"]
                    by_engine[engine] = row
                    results.append(row)
                    if engine == "elasticsearch" and args.data_root is None:
                        from search_api.engines.elasticsearch import ElasticsearchEngine

                        ElasticsearchEngine(settings).drop_indices()
                if len(by_engine) == 2:
                    es, lite = by_engine["elasticsearch"], by_engine["sqlite"]
                    es["es_per_sqlite"] = {f"×{scale} {t}": es[t]["rps"] / lite[t]["rps"] for t in ("api", "html")}
    finally:
        if started_es:
            from search_api.engines import es_server

            es_server.stop()
    meta = {"questions": len(questions), "connections": args.connections, "cpus": os.cpu_count()}
    print(json.dumps({**meta, "results": results}, ensure_ascii=False) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
