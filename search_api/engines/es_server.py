"""Start, stop and inspect the local Elasticsearch node run by ``scripts/elasticsearch.sh``.

Used by the test fixtures and by ``labourkb es start|stop|status``. It does not
import the Elasticsearch client: readiness is a plain HTTP call to
``/_cluster/health`` (the integ-test distribution has no ``GET /``).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "elasticsearch.sh"
DEFAULT_PORT = 9250


class EsServerError(RuntimeError):
    """The local server could not be started or stopped; ``log`` holds the script's output."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(f"{message}\n{log}".rstrip())
        self.log = log


def _script_env(port: int | None, timeout: float | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if port is not None:
        env["LABOURKB_ES_PORT"] = str(port)
    if timeout is not None:
        env["LABOURKB_ES_WAIT"] = str(int(timeout))
    return env


def local_url(port: int | None = None) -> str:
    """URL of the script-managed node on ``port`` (default ``LABOURKB_ES_PORT`` or 9250)."""
    port = port or int(os.environ.get("LABOURKB_ES_PORT", DEFAULT_PORT))
    return f"http://127.0.0.1:{port}"


def cluster_health(url: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """``/_cluster/health`` of the first node in ``url``; None when nothing answers.

    A secured cluster answering 401/403 still counts as answering: it returns
    ``{"status": "unknown", "http_status": code}``.
    """
    base = url.split(",")[0].strip().rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/_cluster/health", timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return {"status": "unknown", "http_status": exc.code}
        return None
    except (OSError, ValueError):
        return None


def ensure_running(timeout: float = 180, port: int | None = None) -> str:
    """Return the URL of a running Elasticsearch, starting the local node if needed.

    ``LABOURKB_ES_URL`` is used as is when that server answers (and ``port`` is
    not given). Otherwise ``scripts/elasticsearch.sh start`` downloads (once),
    starts and waits for the node. Raises ``EsServerError`` with the server log
    when it cannot start.
    """
    if port is None:
        external = os.environ.get("LABOURKB_ES_URL")
        if external and cluster_health(external) is not None:
            return external
    url = local_url(port)
    if cluster_health(url) is not None:
        return url
    try:
        proc = subprocess.run(
            ["bash", str(SCRIPT), "start"],
            env=_script_env(port, timeout),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            # the script's own wait plus download and unpack time
            timeout=timeout + 600,
        )
    except subprocess.TimeoutExpired as exc:
        raise EsServerError("Elasticsearch start timed out", str(exc.stderr or "")) from exc
    if proc.returncode != 0:
        raise EsServerError(f"Elasticsearch did not start (exit {proc.returncode})", proc.stderr + proc.stdout)
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else url


def stop(port: int | None = None) -> None:
    """Stop the script-managed node (a server not started by the script is left alone)."""
    proc = subprocess.run(
        ["bash", str(SCRIPT), "stop"],
        env=_script_env(port),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise EsServerError(f"Elasticsearch stop failed (exit {proc.returncode})", proc.stderr)


def pid_file(port: int | None = None) -> Path:
    """Pid file of the script-managed node on ``port``."""
    home = Path(os.environ.get("LABOURKB_ES_HOME", "/opt/labourkb-es"))
    port = port or int(os.environ.get("LABOURKB_ES_PORT", DEFAULT_PORT))
    return home / f"node-{port}" / "es.pid"


def status(port: int | None = None) -> dict[str, Any]:
    """``{"up": bool, "url": str, "status": green|yellow|red|None, "pid": int|None, "managed": bool}``."""
    url = local_url(port)
    if port is None and os.environ.get("LABOURKB_ES_URL"):
        url = os.environ["LABOURKB_ES_URL"]
    health = cluster_health(url)
    pid = None
    pf = pid_file(port)
    try:
        pid = int(pf.read_text().strip())
        os.kill(pid, 0)
        # a SIGKILLed server may linger as a zombie until it is reaped
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            pid = None
    except (OSError, ValueError, IndexError):
        pid = None
    return {
        "up": health is not None,
        "url": url,
        "status": (health or {}).get("status"),
        "pid": pid,
        "managed": pid is not None,
    }
