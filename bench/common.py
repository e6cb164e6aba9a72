"""Helpers shared by the benchmark scripts (not imported by the application)."""

from __future__ import annotations

import json
import re
import shutil
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
LEXICON = REPO / "ingest" / "resources" / "lexicon"
QUESTIONS = REPO / "corpus" / "eval" / "questions.jsonl"


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 2),
        "p95": round(percentile(ms, 95), 2),
        "p99": round(percentile(ms, 99), 2),
        "mean": round(statistics.fmean(ms), 2),
    }


def scaled_corpus(dest: Path, factor: int, source: Path = CORPUS) -> Path:
    """The corpus plus ``factor - 1`` synthetic copies of every file (new stems and titles)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    files = [p for p in source.rglob("*.md") if p.name not in ("SOURCES.md", "README.md")]
    for i in range(factor):
        for p in files:
            text = p.read_text(encoding="utf-8")
            if i:
                text = re.sub(
                    r'^title: "(.*)"$', lambda m, i=i: f'title: "{m.group(1)}（副本{i}）"', text, count=1, flags=re.M
                )
            out = dest / f"copy{i:02d}" / p.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
    return dest


def worker_queries(n: int = 300) -> list[str]:
    """Worker-style queries: the evaluation questions, cycled with small variations."""
    base = [q["q"] for q in load_questions()] if QUESTIONS.exists() else []
    base = base or ["老板拖欠工资怎么办", "被辞退有赔偿吗", "上班路上出车祸算工伤吗", "试用期多久", "加班费怎么算"]
    suffixes = ["", "怎么办", "？", "吗", "请问"]
    out = []
    i = 0
    while len(out) < n:
        out.append(base[i % len(base)] + suffixes[(i // len(base)) % len(suffixes)])
        i += 1
    return out
