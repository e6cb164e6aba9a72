"""Reviewed additions to what search knows: everyday questions of articles and thesaurus lines.

A reviewer closing a gap (``/review/gaps``) proposes one addition; a second reviewer approves
(or rejects) it on ``/review/additions``. Everything stays in ``search_additions`` of the app
store, with who proposed and who reviewed it, and when: the shipped files
(``ingest/resources/everyday``, ``ingest/resources/lexicon/thesaurus.txt``) are never
written. Each approval takes the next ``version`` number, so the newest version (one indexed
``MAX``) tells a worker process whether it must apply something
(:mod:`search_api.search.live_additions`); ``labourkb ingest``/``rebuild`` read the approved
questions through :func:`approved_questions` so a rebuilt index keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.everyday import MAX_CHARS, MIN_CHARS
from ingest.lexicon import Lexicon, LexiconError, with_thesaurus
from ingest.normalise import normalise
from search_api import db
from search_api.accounts.users import User
from search_api.errors import Conflict, Invalid

THESAURUS_FORMAT = (
    "这一行的格式不对：写成“口语词 => 法律用语, 法律用语 |0.8”或“甲 = 乙”，"
    "每个词中间不能有空格，权重写在“|”后面、在 0 和 1 之间"
)
KINDS = {"question": "常见问法", "thesaurus": "同义词"}
STATES = {"pending": "待复核", "approved": "已生效", "rejected": "未通过"}


@dataclass(frozen=True)
class Addition:
    id: int
    kind: str
    article_id: str
    text: str
    gap: str
    proposed_by: int | None
    proposed_by_name: str
    proposed_at: str
    state: str
    reviewed_by_name: str
    reviewed_at: str
    version: int | None


def check_question(text: str) -> str:
    """An everyday question as the shipped files require it; raises :class:`Invalid`."""
    text = " ".join(text.split())
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        raise Invalid(errors={"text": f"问法要 {MIN_CHARS} 到 {MAX_CHARS} 个字（现在 {len(text)} 个）"})
    return text


def check_thesaurus_line(base: Lexicon, line: str) -> str:
    """One thesaurus line (``口语词 => 法律用语 |0.8`` or ``甲 = 乙``); raises :class:`Invalid`."""
    line = normalise(" ".join(line.split()))
    if not line or "#" in line:
        raise Invalid(errors={"text": "请填写一行同义词，例如：讨薪 => 拖欠工资, 劳动报酬 |0.8"})
    try:
        with_thesaurus(base, [line])
    except LexiconError as exc:
        raise Invalid(errors={"text": THESAURUS_FORMAT}, detail=exc.reason) from None
    return line


class AdditionStore:
    """The ``search_additions`` table of the app store ``database``."""

    def __init__(self, database: db.Database):
        self.database = database
        self._version = db.ScalarProbe(database, "SELECT COALESCE(MAX(version), 0) FROM search_additions")

    def version(self) -> int:
        """The newest approval's number (0: none): the cheap check made before each search."""
        return self._version()

    def close(self) -> None:
        self._version.close()

    def propose(self, user: User, kind: str, text: str, article_id: str = "", gap: str = "") -> Addition:
        """Store a checked addition as pending (a second reviewer approves it)."""
        if kind not in KINDS:
            raise Invalid(errors={"kind": "未知的补充类型"})
        text, article_id, gap = (v.replace("\x00", "") for v in (text, article_id, gap))
        args = {"kind": kind, "article_id": article_id, "text": text}
        with self.database.transaction() as conn:  # the duplicate check and the insert, one writer at a time
            dup = conn.scalar(
                "SELECT 1 FROM search_additions"
                " WHERE kind = :kind AND article_id = :article_id AND text = :text AND state != 'rejected'",
                args,
            )
            if dup:
                raise Invalid(errors={"text": "同样的内容已经提交过了"})
            new_id = conn.scalar(
                "INSERT INTO search_additions (kind, article_id, text, gap, proposed_by, proposed_by_name, proposed_at)"
                " VALUES (:kind, :article_id, :text, :gap, :by, :by_name, :at) RETURNING id",
                {**args, "gap": gap, "by": user.id, "by_name": user.display_name or user.username, "at": db.now_iso()},
            )
            return self._get(conn, new_id)

    def review(self, user: User, addition_id: int, approve: bool) -> Addition:
        """Approve (it takes the next version and goes live) or reject a pending addition.

        The reviewer must not be the one who proposed it: every addition is seen by two people.
        The next version is read and written under the store's write lock, so approvals made at
        once on different app servers get different versions.
        """
        with self.database.transaction() as conn:
            item = self._get(conn, addition_id)
            if item is None:
                raise Invalid(errors={"id": "没有这条补充"})
            if item.state != "pending":
                raise Conflict(f"这条补充已经{STATES[item.state]}")
            if item.proposed_by == user.id:
                raise Invalid(errors={"id": "不能复核自己提交的补充，请另一位审阅人复核"})
            version = None
            if approve:
                version = conn.scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM search_additions")
            conn.execute(
                "UPDATE search_additions SET state = :state, reviewed_by_name = :by_name, reviewed_at = :at,"
                " version = :version WHERE id = :id",
                {
                    "state": "approved" if approve else "rejected",
                    "by_name": user.display_name or user.username,
                    "at": db.now_iso(),
                    "version": version,
                    "id": addition_id,
                },
            )
            return self._get(conn, addition_id)

    def list(self, state: str | None = None, limit: int = 200) -> list[Addition]:
        """Additions, newest first (``state`` narrows them)."""
        where, args = ("WHERE state = :state", {"state": state}) if state else ("", {})
        with self.database.connect() as conn:
            rows = conn.rows(f"SELECT * FROM search_additions {where} ORDER BY id DESC LIMIT :n", {**args, "n": limit})
        return [Addition(**r) for r in rows]

    def approved(self) -> list[Addition]:
        """Every approved addition in the order it was approved."""
        with self.database.connect() as conn:
            rows = conn.rows("SELECT * FROM search_additions WHERE state = 'approved' ORDER BY version")
        return [Addition(**r) for r in rows]

    def _get(self, conn: db.Conn, addition_id: int) -> Addition | None:
        if not 0 < addition_id < 2**31:  # ids come from forms; an INTEGER column on PostgreSQL
            return None
        row = conn.row("SELECT * FROM search_additions WHERE id = :id", {"id": addition_id})
        return Addition(**row) if row else None


def approved_questions(store: AdditionStore) -> dict[str, list[str]]:
    """Article id → its approved everyday questions, for ``ingest``/``rebuild`` (added to the files' ones)."""
    out: dict[str, list[str]] = {}
    for a in store.approved():
        if a.kind == "question":
            out.setdefault(a.article_id, []).append(a.text)
    return out


def approved_thesaurus(store: AdditionStore) -> list[str]:
    return [a.text for a in store.approved() if a.kind == "thesaurus"]
