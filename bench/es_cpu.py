"""CPU per Elasticsearch search, split between this Python process and the node's JVM (issue 13).

Usage: .venv/bin/python bench/es_cpu.py --data-root /tmp/lkb/http13 [--scale 1] [--semantic] [--facets] [--tree DIR]

Runs in process what ``/api/search`` runs (page 1, size 10, related cases, the semantic layer off unless
``--semantic``; facets counted, as for the result page, with ``--facets``) on the index ``bench/http_load.py``
made under ``--data-root`` (prefix ``bench-http-x<scale>``), with every question analysed and the engine's
caches warmed first, as in a served worker. It goes over the distinct worker questions twice: "new" after the
index's request cache is cleared, "repeated" again. For each pass it prints the CPU time of this process
(``time.process_time``) and of the node's JVM (utime + stime from ``/proc/<pid>/stat``, the node of
``scripts/elasticsearch.sh``) per search. Other clients of the same node count too. ``--tree``: the code to
measure (default this checkout; an exported tree, ``git archive``, for a before/after pair). It also prints
how many requests of each kind a search sent the node in the "new" pass.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def jvm_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_kind(target: str, body: object) -> str:
    """What a request to the node is for, from its path and body (``requests_by_kind``)."""
    path = target.split("?")[0].rsplit("/", 1)[-1]
    text = json.dumps(body, ensure_ascii=False) if body is not None else ""
    if '"knn"' in text:
        return "kNN, scores filled in" if '"filter"' in text else "kNN"
    for marker, kind in (("combined_fields", "candidates"), ('"cites"', "related cases"), ('"ids"', "documents")):
        if marker in text:
            return f"{kind} ({path})"
    return path


def requests_by_kind():
    """A counter of the requests this process sends, by ``request_kind``, from now on."""
    import elastic_transport

    counts: collections.Counter[str] = collections.Counter()
    send = elastic_transport.Transport.perform_request

    def counting(self, method, target, *args, **kwargs):
        counts[request_kind(target, kwargs.get("body"))] += 1
        return send(self, method, target, *args, **kwargs)

    elastic_transport.Transport.perform_request = counting
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--tree", type=Path, default=REPO)
    ap.add_argument("--semantic", action="store_true", help="with the semantic retriever (the index must have vectors)")
    ap.add_argument("--facets", action="store_true", help="count facets, as the result page does")
    args = ap.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    import search_api
    from bench.http_load import worker_questions
    from bench.search_latency import settings_for
    from search_api.engines import es_server
    from search_api.engines.elasticsearch import ElasticsearchEngine
    from search_api.search.service import SearchService

    assert Path(search_api.__file__).resolve().is_relative_to(args.tree.resolve()), search_api.__file__
    node = es_server.status()
    assert node["up"] and node["pid"], f"no local node from scripts/elasticsearch.sh: {node}"
    data = args.data_root / f"cpu-x{args.scale}"
    settings = settings_for("elasticsearch", data, node["url"], f"bench-http-x{args.scale}", args.semantic)
    engine = ElasticsearchEngine(settings)
    service = SearchService(settings, engine)
    if args.semantic:
        service.semantic.start(background=False)
        assert service.semantic.retriever is not None, service.semantic.status
    questions = list(dict.fromkeys(worker_questions()))
    for q in questions:
        service.analyse(q)
    service.warm_up()  # as a served worker does before it takes traffic
    service.search(questions[0])
    engine.client.indices.clear_cache(index=engine.alias, request=True)
    passes = []
    counts = requests_by_kind()
    for name in ("new", "repeated"):
        jvm0, py0 = jvm_seconds(node["pid"]), time.process_time()
        for q in questions:
            service.search(q, facets=args.facets)
        if name == "new":
            sent = {kind: round(n / len(questions), 2) for kind, n in counts.most_common()}
        py = (time.process_time() - py0) * 1000 / len(questions)
        jvm = (jvm_seconds(node["pid"]) - jvm0) * 1000 / len(questions)
        passes.append(f"{name}: Python {py:.1f} + JVM {jvm:.1f} = {py + jvm:.1f} ms")
    print(f"x{args.scale}, {len(questions)} questions: " + "; ".join(passes) + f"; load {os.getloadavg()[0]:.1f}")
    print("requests per new question: " + ", ".join(f"{kind} {n}" for kind, n in sent.items()))


if __name__ == "__main__":
    main()
