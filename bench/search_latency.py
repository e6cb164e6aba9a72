"""/api/search latency in-process over worker-style queries, on the corpus scaled ×N, and the
peak RSS of a real `labourkb serve` process answering them.

Usage: .venv/bin/python bench/search_latency.py [--scale 20] [--queries 300] [--engine sqlite|elasticsearch|both]
       [--semantic] [--data DIR] [--breakdown] [--rss-only]

``--data DIR``: build the scaled corpus and the SQLite index (and vector cache) in ``DIR`` and
reuse them on the next run (×20 takes about a minute to build); by default a temporary directory.
``--breakdown``: also time the stages of a search after warm-up (see ``stage_times``).
``--http``: also over HTTP, one keep-alive client and a real `labourkb serve --workers 1` with the
query log on (``served_latency``): in-process figures include the test client's own cost (its
thread hop and request building: ~3 ms of a request at ×1), which no phone pays.

The queries are all different texts (each question, then variants of it), so the result cache
(search/result_cache.py) answers none of them: every figure is a question met for the first time.

``--semantic``: the semantic retriever on (the model loaded, its vectors in the process or in
Elasticsearch, questions embedded per search). The ×N copies differ from the corpus only by
"（副本i）" in their titles, so instead of embedding 73,000 texts the bench stores each copy's text
under the vector of the original text (``data/bench-vectors`` caches those across runs): the
search work — one query embedding and a top-k over every vector — is the same as with
vectors of their own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LEXICON, REPO, load_questions, scaled_corpus, summary_ms, worker_queries


def settings_for(engine: str, data: Path, es_url: str | None, prefix: str, semantic: bool = False):
    from search_api.settings import Settings

    return Settings(
        data_dir=data,
        engine=engine,
        lexicon_dir=LEXICON,
        es_url=es_url or "http://127.0.0.1:9250",
        es_index_prefix=prefix,
        querylog_enabled=False,
        warm_cache=False,
        semantic=semantic,
    )


ORIGINALS = REPO / "data" / "bench-vectors" / "vectors.sqlite3"
_COPY = re.compile(r"（副本\d+）")


def prefill_vectors(settings) -> dict:
    """Fill the run's vector cache: each copy's texts get the vectors of the original texts
    (embedded once into ``data/bench-vectors``), then the layer is built as ``labourkb ingest`` does."""
    import numpy as np

    from search_api.engines import get_engine
    from search_api.search.layer import SemanticLayer
    from search_api.search.semantic import Embedder, VectorCache, text_key, texts_by_document

    engine = get_engine(settings)
    docs = list(engine.all_documents())
    texts = texts_by_document(docs, {d.id: d.questions for d in docs if d.questions})
    original = {text_key(t): _COPY.sub("", t) for ts in texts.values() for t in ts}
    source = VectorCache(ORIGINALS)
    wanted = sorted({text_key(t) for t in original.values()})
    have = source.get_many(wanted)
    todo = sorted({t for t in original.values() if text_key(t) not in have})
    t0 = time.perf_counter()
    if todo:
        vecs = Embedder.load(settings.model_dir, threads=2).embed_documents(todo)
        source.put_many(zip([text_key(t) for t in todo], vecs, strict=True))
        have.update(zip([text_key(t) for t in todo], vecs, strict=True))
    embedded_s = time.perf_counter() - t0
    cache = VectorCache(settings.vectors_path)
    items = list(original.items())
    for i in range(0, len(items), 4096):
        cache.put_many((k, np.asarray(have[text_key(t)])) for k, t in items[i : i + 4096])
    cache.close()
    source.close()
    t0 = time.perf_counter()
    layer = SemanticLayer(settings, engine)
    layer.start(background=False)
    layer.close()
    engine.close()
    return {
        "originals_embedded": len(todo),
        "embed_s": round(embedded_s, 1),
        "layer_s": round(time.perf_counter() - t0, 1),
        "status": layer.status,
    }


def build_index(settings, corpus: Path) -> float:
    from ingest.pipeline import ingest
    from search_api.engines import get_engine

    engine = get_engine(settings)
    t0 = time.perf_counter()
    ingest([corpus], engine, lexicon_dir=LEXICON)
    seconds = time.perf_counter() - t0
    engine.close()
    return seconds


def in_process_latency(settings, queries: list[str], warm_up: bool = False) -> dict:
    """Time /api/search in-process. ``warm_up`` first runs the start-up cache warm-up to completion."""
    from fastapi.testclient import TestClient

    from search_api.app import create_app

    app = create_app(settings)
    with TestClient(app) as client:
        if settings.semantic:  # searches are fused only once the layer is ready
            assert app.state.service.semantic.ready.wait(600), "semantic layer not ready"
            assert app.state.service.semantic.retriever is not None, app.state.service.semantic.status
        client.get("/api/search", params={"q": "工资"})  # open the index, load the dictionary
        if warm_up:
            app.state.service.warm_up()
        times = []
        for q in queries:
            t0 = time.perf_counter()
            r = client.get("/api/search", params={"q": q, "size": 10})
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, (q, r.status_code, r.text[:200])
    # The first pass over the distinct questions meets the per-term caches cold; the
    # variants after it (same content words, other filler) find their terms cached.
    first = min(len(load_questions()), len(times))
    return {"all": summary_ms(times), "cold_first_pass": summary_ms(times[:first]), "warm": summary_ms(times[first:])}


def in_fresh_process(settings, queries: list[str], warm_up: bool) -> dict:
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(in_process_latency, (settings, queries, warm_up))


class _Stages:
    """Per request, the wall time spent in each wrapped function (summed over its calls)."""

    def __init__(self):
        self.current: dict[str, float] = {}
        self.rows: list[dict[str, float]] = []

    def wrap(self, owner, name: str, stage: str, when=None) -> None:
        fn = getattr(owner, name)

        def timed(*args, **kwargs):
            if when is not None and not when(*args, **kwargs):
                return fn(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[stage] = self.current.get(stage, 0.0) + time.perf_counter() - t0

        setattr(owner, name, timed)

    def end(self, total_s: float) -> None:
        self.rows.append({**self.current, "request": total_s})
        self.current = {}


def stage_times(settings, queries: list[str]) -> dict:
    """After the warm-up, where a search's time goes: per stage p50/p99/mean in ms over the
    queries (the semantic side runs in a pool thread while the lexical one runs: the stages
    overlap, so they do not add up to the request)."""
    from fastapi.testclient import TestClient

    import search_api.search.service as service_module
    from search_api.app import create_app

    app = create_app(settings)
    stages = _Stages()
    with TestClient(app) as client:
        service = app.state.service
        if settings.semantic:
            assert service.semantic.ready.wait(600), "semantic layer not ready"
            retriever = service.semantic.retriever
            assert retriever is not None, service.semantic.status
            stages.wrap(retriever, "embed_query", "semantic: embed question")
            stages.wrap(retriever.index, "search", "semantic: top-k over vectors")
            stages.wrap(retriever, "semantic_scores", "semantic: all")
        client.get("/api/search", params={"q": "工资"})
        service.warm_up()
        engine = service.engine
        stages.wrap(engine, "search", "lexical: engine.search", when=lambda q: bool(q.terms))
        stages.wrap(engine, "search", "related cases", when=lambda q: not q.terms)
        stages.wrap(engine, "get_many", "get_many")
        stages.wrap(service, "analyse", "analyse")
        for name, stage in (("fuse", "fuse"), ("shape_hit", "shape hits"), ("answer_card", "answer card")):
            stages.wrap(service_module, name, stage)
        stages.wrap(service, "search", "service.search")
        for q in queries:
            t0 = time.perf_counter()
            r = client.get("/api/search", params={"q": q, "size": 10})
            stages.end(time.perf_counter() - t0)
            assert r.status_code == 200
    names = sorted({k for row in stages.rows for k in row}, key=lambda k: (k != "request", k))
    return {k: summary_ms([row.get(k, 0.0) for row in stages.rows]) for k in names}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(settings) -> dict[str, str]:
    """The environment of a `labourkb serve` on ``settings``' data, engine and semantic layer
    (query log on, as in production)."""
    return dict(
        os.environ,
        LABOURKB_DATA_DIR=str(settings.data_dir),
        LABOURKB_ENGINE=settings.engine,
        LABOURKB_ES_URL=settings.es_url,
        LABOURKB_ES_INDEX_PREFIX=settings.es_index_prefix,
        LABOURKB_QUERYLOG_ENABLED="true",
        LABOURKB_SEMANTIC=str(settings.semantic).lower(),
    )


class Served:
    """`labourkb serve --workers 1` on ``settings``' data, on a free port, until the block ends
    (its worker warms up before it listens, as in production)."""

    def __init__(self, settings):
        self.settings = settings
        self.port = free_port()

    def __enter__(self) -> Served:
        self.proc = subprocess.Popen(
            [str(REPO / ".venv/bin/labourkb"), "serve", "--port", str(self.port), "--workers", "1"],
            env=server_env(self.settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(3000):
            try:
                health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1))
                if not self.settings.semantic or health.get("semantic") != "building":
                    break
            except OSError:
                pass
            time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def server_peak_rss(settings, queries: list[str]) -> float:
    """Start `labourkb serve`, send the queries over HTTP, read VmHWM (peak RSS) of the process."""
    with Served(settings) as server:
        for q in queries:
            for route in ("/search", "/api/search"):
                url = f"http://127.0.0.1:{server.port}{route}?q={urllib.parse.quote(q)}"
                urllib.request.urlopen(url, timeout=10).read()
        status = Path(f"/proc/{server.proc.pid}/status").read_text()
        return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM"))) / 1024


def served_latency(settings, queries: list[str]) -> dict:
    """/api/search over HTTP from one keep-alive client, one request at a time, on a real server
    (query log on, as in production): the latency a phone sees, less the network."""
    from bench.login_flood import search_latencies

    with Served(settings) as server:
        search_latencies(server.port, ["工资"])  # open the index, load the dictionary
        times = search_latencies(server.port, queries)
    first = min(len(load_questions()), len(times))
    return {"all": summary_ms(times), "first_pass": summary_ms(times[:first]), "after": summary_ms(times[first:])}


def prepared(root: Path, name: str, args, es_url: str | None) -> tuple[object, dict]:
    """Settings of a data directory under ``root`` holding the scaled corpus indexed (and its
    vectors): built now, or reused when an earlier run with ``--data`` left it complete."""
    root = root / f"x{args.scale}"
    data = root / f"data-{name}{'-semantic' if args.semantic else ''}"
    settings = settings_for(name, data, es_url, f"bench-{os.getpid()}", args.semantic)
    row: dict = {"engine": name, "scale": args.scale}
    done = root / f"{data.name}.ready"
    if name == "sqlite" and done.exists():
        row["reused"] = str(data)
        return settings, row
    if data.exists():
        shutil.rmtree(data)
    corpus = root / "corpus"
    if not (root / "corpus.ready").exists():
        scaled_corpus(corpus, args.scale)
        (root / "corpus.ready").touch()
    row["ingest_s"] = round(build_index(settings, corpus), 1)
    if args.semantic:
        row["semantic"] = prefill_vectors(settings)
    if name == "sqlite":
        done.touch()
    return settings, row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--engine", default="sqlite", choices=["sqlite", "elasticsearch", "both"])
    ap.add_argument("--no-rss", action="store_true")
    ap.add_argument("--rss-only", action="store_true", help="only the served worker's peak RSS")
    ap.add_argument("--semantic", action="store_true", help="with the semantic retriever (see the module doc)")
    ap.add_argument("--data", type=Path, help="build (or reuse) the index here instead of a temporary directory")
    ap.add_argument("--breakdown", action="store_true", help="also time the stages of a search after warm-up")
    ap.add_argument("--http", action="store_true", help="also over HTTP from a real server (served_latency)")
    args = ap.parse_args()
    queries = worker_queries(args.queries)
    engines = ["sqlite", "elasticsearch"] if args.engine == "both" else [args.engine]
    es_url = None
    if "elasticsearch" in engines:
        from search_api.engines import es_server

        es_url = es_server.ensure_running()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data.resolve() if args.data else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        results = []
        for name in engines:
            settings, row = prepared(root, name, args, es_url)
            if not args.rss_only:
                # each configuration in a fresh process, as a fresh server would be
                row["api_search_ms"] = in_fresh_process(settings, queries, False)
                row["api_search_ms_after_warm_up"] = in_fresh_process(settings, queries, True)
                print(json.dumps(row, ensure_ascii=False), flush=True)
            if args.http:
                row["api_search_ms_served"] = served_latency(settings, queries)
                print(json.dumps(row, ensure_ascii=False), flush=True)
            if args.breakdown:
                with multiprocessing.get_context("fork").Pool(1) as pool:
                    row["stages_ms_after_warm_up"] = pool.apply(stage_times, (settings, queries))
            if not args.no_rss:
                row["server_peak_rss_mb"] = round(server_peak_rss(settings, queries[:100]), 1)
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            if name == "elasticsearch":
                from search_api.engines.elasticsearch import ElasticsearchEngine

                ElasticsearchEngine(settings).drop_indices()
        if len(results) == 2 and not args.rss_only:
            a, b = results[0]["api_search_ms"]["all"], results[1]["api_search_ms"]["all"]
            print(f"ratio elasticsearch/sqlite p50: {b['p50'] / a['p50']:.2f}, p99: {b['p99'] / a['p99']:.2f}")


if __name__ == "__main__":
    main()
