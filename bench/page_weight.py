"""What a phone downloads for one result page: HTML and CSS, as sent (gzip) and uncompressed.

Runs the real app in-process over the real corpus (the embedded engine; lexical ranking, so
no model is needed), asks each question with ``Accept-Encoding: gzip`` and prints the bytes
on the wire. ``query_copies`` is how much of the uncompressed page the question's copies in
the filter and page links take, and what they still cost once compressed. The target is a
result page ≤ 12 KB compressed. Usage:
    .venv/bin/python bench/page_weight.py [--data-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, worker_queries
from bench.render_latency import build

TARGET_BYTES = 12 * 1024
QUESTIONS = [
    "被公司辞退了有经济补偿吗",
    "公司拖欠工资怎么办",
    "不签劳动合同双倍工资",
    "工伤认定",
    "老板跑路了工资找谁要",
    "我在一家工厂干了三年，老板突然说厂子要搬走让我们自己走人，一分钱补偿都不给，还拖着上个月的工资，我该怎么办",
]


def sent(client, url: str) -> tuple[bytes, bytes]:
    """(bytes on the wire, decoded body) of a GET that accepts gzip."""
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200, (url, response.status_code)
        raw = b"".join(response.iter_raw())
        gzipped = response.headers.get("content-encoding") == "gzip"
    return raw, gzip.decompress(raw) if gzipped else raw


def measure(settings, questions: list[str]) -> dict:
    from fastapi.testclient import TestClient

    from search_api.app import create_app

    rows = []
    with TestClient(create_app(settings)) as client:
        home_raw, home = sent(client, "/")
        css_url = home.decode().split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
        css_raw, css = sent(client, css_url)
        for q in questions:
            raw, html = sent(client, "/search?q=" + quote(q))
            copies = html.decode().count(quote(q)) * len(quote(q).encode())
            without = html.decode().replace(quote(q), "").encode()
            rows.append(
                {
                    "q": q,
                    "html_sent": len(raw),
                    "html": len(html),
                    "query_copies": copies,
                    "query_copies_sent": len(raw) - len(gzip.compress(without, 6)),
                }
            )
    sizes = [r["html_sent"] for r in rows]
    return {
        "questions": rows,
        "html_sent_median": statistics.median(sizes),
        "html_sent_max": max(sizes),
        "css": {"url": css_url, "sent": len(css_raw), "bytes": len(css)},
        "home_sent": len(home_raw),
        "target_bytes": TARGET_BYTES,
        "within_target": max(sizes) <= TARGET_BYTES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, help="reuse this data directory (its index is built when missing)")
    parser.add_argument("--queries", type=int, default=0, help="also this many questions from the evaluation set")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = QUESTIONS + (worker_queries(args.queries) if args.queries else [])
    with tempfile.TemporaryDirectory() as tmp:
        settings = build(args.data_dir or Path(tmp) / "data").model_copy(update={"semantic": False})
        result = measure(settings, questions)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"corpus {CORPUS}, lexicon {LEXICON}")
    print(f"{'html sent':>9} {'html':>7} {'q copies':>8} {'(sent)':>6}  question")
    for r in result["questions"]:
        print(f"{r['html_sent']:9} {r['html']:7} {r['query_copies']:8} {r['query_copies_sent']:6}  {r['q'][:40]}")
    css = result["css"]
    print(f"css {css['url']}: {css['sent']} sent / {css['bytes']} bytes (cached for a year)")
    print(f"home page: {result['home_sent']} sent")
    print(
        f"result page sent: median {result['html_sent_median']:.0f}, max {result['html_sent_max']} bytes"
        f" (target ≤ {TARGET_BYTES}): {'ok' if result['within_target'] else 'OVER'}"
    )


if __name__ == "__main__":
    main()
