"""Small shared pieces for the monitoring tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ingest.model import Document
from search_api.accounts.sessions import SESSION_COOKIE


def index_docs(engine, *ids: str) -> None:
    """Put tiny article documents with these ids into ``engine`` (``/go`` only redirects to real ones)."""
    engine.index_documents(
        [
            Document(
                id=doc_id,
                kind="article",
                title="第一条",
                text="拖欠工资",
                tokens={"title": "", "keywords": "", "body": "拖欠 工资"},
                source_path=f"{doc_id}.md",
            )
            for doc_id in ids
        ]
    )
    engine.refresh()


def login(client, app, role):
    """Log ``client`` in as a new user with ``role``; returns the user."""
    store = app.state.store
    user = store.users.create(f"u-{role}", "a-long-password-1", role)
    token, _ = store.sessions.create(user.id, 3600)
    client.cookies.set(SESSION_COOKIE, token)
    return user


class Receiver:
    """A tiny webhook endpoint answering from a list of status codes (last one repeats)."""

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.got.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
