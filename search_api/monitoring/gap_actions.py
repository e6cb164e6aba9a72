"""What reviewers decided about gaps that is not a search addition: noise, and requests to lawyers.

Both live in the app store with who and when. ``gap_noise`` holds the concept keys of a gap
marked as noise (hidden from the report from then on); ``gap_requests`` asks the lawyers
for a 问答 on a question nobody answers well — they see the open ones on ``/lawyer/requests``.
The additions themselves (everyday questions, thesaurus lines) are in
:mod:`search_api.search.additions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from search_api import db
from search_api.accounts.users import User
from search_api.errors import Invalid

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
    """The ``gap_noise`` and ``gap_requests`` tables of the app store ``database``."""

    def __init__(self, database: db.Database):
        self.database = database

    def hidden(self) -> set[str]:
        """Concept keys marked as noise."""
        with self.database.connect() as conn:
            return set(conn.column("SELECT concept_key FROM gap_noise"))

    def mark_noise(self, user: User, gap: str, question: str, member_keys: set[str]) -> None:
        """Hide the gap's concept keys from the report (a key marked before keeps its first mark)."""
        if not member_keys:
            return
        name, now = user.display_name or user.username, db.now_iso()
        rows = [
            {"key": k, "gap": gap, "question": _no_nul(question), "name": name, "at": now} for k in sorted(member_keys)
        ]
        with self.database.transaction() as conn:
            conn.execute(
                "INSERT INTO gap_noise (concept_key, gap, question, marked_by_name, marked_at)"
                " VALUES (:key, :gap, :question, :name, :at) ON CONFLICT DO NOTHING",
                rows,
            )

    def ask_lawyer(self, user: User, gap: str, question: str, note: str) -> LawyerRequest:
        question, note = " ".join(_no_nul(question).split()), _no_nul(note).strip()
        if not 2 <= len(question) <= 200:
            raise Invalid(errors={"question": "请写明要律师解答的问题（2 到 200 个字）"})
        if len(note) > MAX_NOTE:
            raise Invalid(errors={"note": f"说明最多 {MAX_NOTE} 个字"})
        with self.database.transaction() as conn:
            row = conn.row(
                "INSERT INTO gap_requests (gap, question, note, requested_by_name, requested_at)"
                " VALUES (:gap, :question, :note, :name, :at) RETURNING *",
                {
                    "gap": gap,
                    "question": question,
                    "note": note,
                    "name": user.display_name or user.username,
                    "at": db.now_iso(),
                },
            )
            return LawyerRequest(**row)

    def requests(self, state: str | None = "open") -> list[LawyerRequest]:
        where, args = ("WHERE state = :state", {"state": state}) if state else ("", {})
        with self.database.connect() as conn:
            rows = conn.rows(f"SELECT * FROM gap_requests {where} ORDER BY id DESC", args)
        return [LawyerRequest(**r) for r in rows]

    def gaps_acted_on(self) -> dict[str, str]:
        """Gap key → what was done (for the report's status column)."""
        with self.database.connect() as conn:
            return dict.fromkeys(conn.column("SELECT gap FROM gap_requests"), "已请律师写问答")


def _no_nul(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
