"""The distribution: ``pip wheel .`` holds the runtime data, installs into a fresh venv, runs anywhere.

The wheel is built offline (``--no-build-isolation``, setuptools from the dev extra) from a
copy of the packages, so the build leaves nothing in the work tree. The venv has no pip and no
packages of its own: a ``.pth`` line lends it this environment's site-packages for the
dependencies (a plain path line, so the editable install's finder there is not loaded), and
the wheel is installed by pip with ``--python``. Every command then runs from an empty
directory, without PYTHONPATH, so nothing can come from the source tree.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import re
import shutil
import site
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.browser.conftest import _free_port
from tests.conftest import REPO_ROOT
from tests.fixtures.corpus import write_corpus

PACKAGES = ("ingest", "search_api")
DATA_FILES = [
    *(f"ingest/resources/lexicon/{name}" for name in ("userdict.txt", "thesaurus.txt", "filler.txt", "typos.txt")),
    "ingest/resources/lexicon/topics.txt",
    "ingest/resources/lexicon/employer_aliases.txt",
    "ingest/resources/everyday/labor-contract-law.jsonl",
    "search_api/web/templates/base.html",
    "search_api/web/templates/search.html",
    "search_api/web/templates/account/login.html",
    "search_api/web/templates/review/dashboard.html",
    "search_api/web/static/style.css",
]


def _run(args: list, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copy(REPO_ROOT / "pyproject.toml", src)
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, src],
        cwd=src,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("labourkb-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; its dependencies borrowed from this environment."""
    root = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root, env=dict(os.environ))
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    purelib = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, {}).stdout.strip()
    )
    (purelib / "_labourkb_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
        cwd=root,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert installed.returncode == 0, installed.stderr
    return root


@pytest.fixture
def clean_env(tmp_path) -> dict[str, str]:
    """The environment of a shell on the server: no PYTHONPATH, no LABOURKB_* but the data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABOURKB_") and k != "PYTHONPATH"}
    # lexical search: the semantic layer needs the model from `labourkb model fetch`, not the wheel
    env.update(LABOURKB_DATA_DIR=str(tmp_path / "data"), LABOURKB_SEMANTIC="false")
    return env


def test_the_wheel_holds_the_runtime_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in DATA_FILES if name not in names]
    assert not missing, missing
    assert not any(name.startswith(("tests/", "bench/", "corpus/", "site/")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Python: >=3.11\n" in metadata  # 3.11 to 3.13 and later: no upper cap
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "labourkb = search_api.cli:cli" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _imported_distributions() -> set[str]:
    """Distributions of every third-party module the two packages import (by their source)."""
    modules: set[str] = set()
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    owners = md.packages_distributions()
    local = set(PACKAGES) | set(sys.stdlib_module_names)
    missing = sorted(m for m in modules - local if m not in owners)
    assert not missing, f"imported but installed by no distribution: {missing}"
    return {_canonical(owners[m][0]) for m in modules - local}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[str]) -> set[str]:
    """The declared distributions and everything they require, as installed here (no extras)."""
    seen: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        req = pending.pop()
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        name = _canonical(req.name)
        if name not in seen:
            seen.add(name)
            pending.extend(Requirement(r) for r in md.requires(req.name) or [])
    return seen


def test_every_imported_library_is_a_runtime_dependency(wheel):
    metadata = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    declared = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in declared if not (Requirement(r).marker and "extra" in str(Requirement(r).marker))]
    assert "httpx" in {_canonical(Requirement(r).name) for r in runtime}  # webhooks send with it
    unmet = _imported_distributions() - _closure(runtime)
    assert not unmet, f"imported at run time but only in the dev extra (or nowhere): {sorted(unmet)}"


def _get(url: str) -> tuple[int, str, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8"), {k.lower(): v for k, v in response.headers.items()}


def test_installed_wheel_ingests_searches_and_serves_from_anywhere(venv, clean_env, tmp_path):
    bin_dir = venv / "bin"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    where = _run(
        [bin_dir / "python", "-c", "import ingest, search_api; print(ingest.__file__, search_api.__file__)"],
        cwd,
        clean_env,
    )
    assert where.stdout.count(str(venv)) == 2, where.stdout + where.stderr

    no_corpus = _run([bin_dir / "labourkb", "ingest"], cwd, clean_env)
    assert no_corpus.returncode != 0 and "LABOURKB_CORPUS_DIR" in no_corpus.stderr, no_corpus.stderr
    missing = _run([bin_dir / "labourkb", "ingest", tmp_path / "no-such-corpus"], cwd, clean_env)
    assert missing.returncode != 0 and "找不到" in missing.stderr, missing.stderr

    # the local Elasticsearch helper needs the source tree's script: a clear refusal, not a traceback
    es_stop = _run([bin_dir / "labourkb", "es", "stop"], cwd, clean_env)
    assert es_stop.returncode == 1 and "LABOURKB_ES_URL" in es_stop.stderr and "Traceback" not in es_stop.stderr

    corpus = write_corpus(tmp_path / "corpus")
    ingested = _run([bin_dir / "labourkb", "ingest", corpus], cwd, clean_env)
    assert ingested.returncode == 0, ingested.stderr
    assert "8 documents indexed" in ingested.stdout, ingested.stdout

    searched = _run([bin_dir / "labourkb", "search", "拖欠劳动报酬", "--json", "--size", "5"], cwd, clean_env)
    assert searched.returncode == 0, searched.stderr
    found = json.loads(searched.stdout)
    assert found["total"] > 0 and found["tokens"] == ["拖欠劳动报酬"], found  # the packaged dictionary's word
    assert {h["kind"] for h in found["hits"]} >= {"article"}

    port = _free_port()
    server = subprocess.Popen(
        [bin_dir / "labourkb", "serve", "--port", str(port)],
        cwd=cwd,
        env=clean_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "labourkb serve did not start"
            time.sleep(0.2)
        status, home, _ = _get(base + "/")
        assert status == 200 and "劳动法知识库" in home
        status, results, _ = _get(base + "/search?q=" + urllib.request.quote("拖欠劳动报酬"))
        assert status == 200 and "示范劳动保护法" in results
        css = re.search(r'href="(/static/style\.[0-9a-f]{12}\.css)"', results)
        assert css, "the page links its stylesheet by content hash"
        status, _, headers = _get(base + css.group(1))
        assert status == 200 and headers["content-type"].startswith("text/css")
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    assert "Traceback" not in err, err
