"""What reviewers decided about gaps that is not a search addition: noise, and requests to lawyers.

Both live in the app store with who and when. ``gap_noise`` holds the concept keys of a gap
marked as noise (hidden from the report from then on); ``gap_requests`` asks the lawyers
for a 问答 on a question nobody answers well — they see the open ones on ``/lawyer/requests``.
The additions themselves (everyday questions, thesaurus lines) are in
:mod:`search_api.search.additions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from search_api import db
from search_api.accounts.users import User
from search_api.errors import Invalid

SCHEMA = """
CREATE TABLE IF NOT EXISTS gap_noise (
    concept_key TEXT PRIMARY KEY,
    gap TEXT NOT NULL,
    question TEXT NOT NULL,
    marked_by_name TEXT NOT NULL,
    marked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gap_requests (
    id INTEGER PRIMARY KEY,
    gap TEXT NOT NULL,
    question TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    requested_by_name TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open'   -- open | done
);
"""

MAX_NOTE = 500


@dataclass(frozen=True)
class LawyerRequest:
    id: int
    gap: str
    question: str
    note: str
    requested_by_name: str
    requested_at: str
    state: str


class GapActions:
    """The ``gap_noise`` and ``gap_requests`` tables of the app store at ``path``."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        with db.connect(self.path, SCHEMA):
            pass

    def hidden(self) -> set[str]:
        """Concept keys marked as noise."""
        with db.connect(self.path) as conn:
            return {r[0] for r in conn.execute("SELECT concept_key FROM gap_noise")}

    def mark_noise(self, user: User, gap: str, question: str, member_keys: set[str]) -> None:
        name = user.display_name or user.username
        with db.connect(self.path) as conn, db.transaction(conn):
            conn.executemany(
                "INSERT OR IGNORE INTO gap_noise VALUES (?, ?, ?, ?, ?)",
                [(k, gap, question, name, db.now_iso()) for k in sorted(member_keys)],
            )

    def ask_lawyer(self, user: User, gap: str, question: str, note: str) -> LawyerRequest:
        question, note = " ".join(question.split()), note.strip()
        if not 2 <= len(question) <= 200:
            raise Invalid(errors={"question": "请写明要律师解答的问题（2 到 200 个字）"})
        if len(note) > MAX_NOTE:
            raise Invalid(errors={"note": f"说明最多 {MAX_NOTE} 个字"})
        with db.connect(self.path) as conn, db.transaction(conn):
            cur = conn.execute(
                "INSERT INTO gap_requests (gap, question, note, requested_by_name, requested_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (gap, question, note, user.display_name or user.username, db.now_iso()),
            )
            row = conn.execute("SELECT * FROM gap_requests WHERE id = ?", (cur.lastrowid,)).fetchone()
            return LawyerRequest(**dict(row))

    def requests(self, state: str | None = "open") -> list[LawyerRequest]:
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        with db.connect(self.path) as conn:
            rows = conn.execute(f"SELECT * FROM gap_requests {where} ORDER BY id DESC", args)
            return [LawyerRequest(**dict(r)) for r in rows]

    def gaps_acted_on(self) -> dict[str, str]:
        """Gap key → what was done (for the report's status column)."""
        with db.connect(self.path) as conn:
            return {r[0]: "已请律师写问答" for r in conn.execute("SELECT gap FROM gap_requests")}
