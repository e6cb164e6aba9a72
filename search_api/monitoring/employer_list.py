"""The union's own list of employers and aliases, kept in the app store, every change a new version.

Reviewers edit it on the dashboard (``/review/employers``): one employer a line,
``name = alias、alias …``, and words that must never count as an employer. Each save is a
new row of ``employer_list_versions`` with who saved it and when; nothing is overwritten, so
the history shows every change.

Every worker process (``labourkb serve --workers N``), on every app server sharing the store,
reads the same table: before each use, :meth:`EmployerList.version` asks for the newest version
number (one indexed ``MAX`` on a pooled connection), and :func:`recogniser_for` rebuilds its
:class:`Recogniser` only when that number — or the lexicon's alias file — changed. A save is
thus applied by every process at its next query, without a restart.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ingest.normalise import normalise
from search_api import db
from search_api.accounts.users import User
from search_api.errors import Conflict, Invalid
from search_api.monitoring import employer_rules as rules
from search_api.monitoring.brands import builtin_aliases
from search_api.monitoring.employers import Recogniser, lexicon_aliases
from search_api.settings import Settings

MAX_LINES = 5000
MAX_LINE_CHARS = 400
_SPLIT_RE = re.compile(r"[、,，;；]")


@dataclass
class ListVersion:
    """One saved state of the list (version 0: nothing saved yet)."""

    version: int = 0
    entries: list[tuple[str, list[str]]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    changed_by_name: str = ""
    changed_at: str = ""
    summary: str = ""

    def aliases(self) -> list[tuple[str, str]]:
        """``(alias, name)`` pairs, each name first as its own alias."""
        return [(a, name) for name, aliases in self.entries for a in (name, *aliases)]

    def entries_text(self) -> str:
        """The list as the form shows it: ``name = alias、alias`` per line."""
        return "\n".join(f"{n} = {'、'.join(a)}" if a else n for n, a in self.entries)

    def excluded_text(self) -> str:
        return "\n".join(self.excluded)


def _refused_alias(alias: str) -> str | None:
    """Why ``alias`` cannot stand for one employer (a generic word, a law, a place), or None."""
    norm = normalise(alias).strip()
    if len(norm) < 2:
        return f"“{alias}”太短，至少两个字"
    if norm in rules.GENERIC or norm in rules.GENERIC_STEMS:
        return f"“{alias}”是泛指的词，不是某一家用人单位"
    if norm.endswith(("法", "条例", "规定", "办法", "解释")):
        return f"“{alias}”像是法律法规的名称"
    if rules.is_place(norm):
        return f"“{alias}”是地名"
    return None


def parse_entries(text: str) -> list[tuple[str, list[str]]]:
    """``name = alias、alias`` lines → ``[(name, [alias, …])]``; raises :class:`Invalid` naming the line."""
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) > MAX_LINES:
        raise Invalid(errors={"entries": f"最多 {MAX_LINES} 行"})
    entries: list[tuple[str, list[str]]] = []
    owner: dict[str, str] = {}
    for no, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_CHARS:
            raise Invalid(errors={"entries": f"第 {no} 行太长（最多 {MAX_LINE_CHARS} 字）"})
        name, _, rest = (part.strip() for part in line.replace("＝", "=").partition("="))
        aliases = [a.strip() for a in _SPLIT_RE.split(rest) if a.strip()]
        for alias in (name, *aliases):
            why = _refused_alias(alias) if alias else "缺少用人单位名称"
            if why:
                raise Invalid(errors={"entries": f"第 {no} 行：{why}"})
            key = normalise(alias).strip()
            if owner.get(key, name) != name:
                raise Invalid(errors={"entries": f"第 {no} 行：“{alias}”已是“{owner[key]}”的别名"})
            owner[key] = name
        entries.append((name, list(dict.fromkeys(a for a in aliases if a != name))))
    return entries


def parse_excluded(text: str) -> list[str]:
    """One word a line (or separated by 、/，); raises :class:`Invalid` on an over-long list."""
    words = [w.strip() for w in _SPLIT_RE.split(text.replace("\r", "").replace("\n", "、")) if w.strip()]
    if len(words) > MAX_LINES or any(len(w) > 60 for w in words):
        raise Invalid(errors={"excluded": f"最多 {MAX_LINES} 个词，每个不超过 60 字"})
    return list(dict.fromkeys(words))


def _summary(old: ListVersion, entries: list[tuple[str, list[str]]], excluded: list[str]) -> str:
    before, after = dict(old.entries), dict(entries)
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    changed = [n for n in after if n in before and before[n] != after[n]]
    parts = [
        f"{label} {'、'.join(names[:5])}{'等' if len(names) > 5 else ''}"
        for label, names in (("新增", added), ("删除", removed), ("修改别名", changed))
        if names
    ]
    if set(excluded) != set(old.excluded):
        parts.append("修改排除词")
    return "；".join(parts) or "无变化"


class EmployerList:
    """The ``employer_list_versions`` table of the app store ``database``."""

    def __init__(self, database: db.Database):
        self.database = database
        self._version = db.ScalarProbe(database, "SELECT COALESCE(MAX(version), 0) FROM employer_list_versions")

    def version(self) -> int:
        """The newest version number (0: none saved): the cheap check made before each use."""
        return self._version()

    def current(self) -> ListVersion:
        """The newest saved list (an empty version 0 when nothing was saved)."""
        with self.database.connect() as conn:
            return _newest(conn)

    def get(self, version: int) -> ListVersion | None:
        with self.database.connect() as conn:
            row = conn.row("SELECT * FROM employer_list_versions WHERE version = :v", {"v": version})
        return _from_row(row) if row else None

    def history(self, limit: int = 50) -> list[ListVersion]:
        """Saved versions, newest first, with who saved each and when."""
        with self.database.connect() as conn:
            rows = conn.rows("SELECT * FROM employer_list_versions ORDER BY version DESC LIMIT :n", {"n": limit})
        return [_from_row(r) for r in rows]

    def save(self, user: User, entries_text: str, excluded_text: str, base_version: int | None = None) -> ListVersion:
        """Store the edited list as a new version; :class:`Invalid` for a bad line, :class:`Conflict`
        when someone saved since ``base_version`` (their change is not overwritten).

        The newest version is read and the next one written under the store's write lock, so
        two reviewers saving at once on different app servers get two versions, in turn."""
        entries = parse_entries(_no_nul(entries_text))
        excluded = parse_excluded(_no_nul(excluded_text))
        with self.database.transaction() as conn:
            old = _newest(conn)
            if base_version is not None and base_version != old.version:
                raise Conflict(
                    f"名单已被 {old.changed_by_name} 更新为第 {old.version} 版，请核对后再保存（您填写的内容仍在下面）"
                )
            conn.execute(
                "INSERT INTO employer_list_versions (version, entries, excluded, changed_by, changed_by_name,"
                " changed_at, summary) VALUES (:version, :entries, :excluded, :by, :by_name, :at, :summary)",
                {
                    "version": old.version + 1,
                    "entries": json.dumps(entries, ensure_ascii=False),
                    "excluded": json.dumps(excluded, ensure_ascii=False),
                    "by": user.id,
                    "by_name": user.display_name or user.username,
                    "at": db.now_iso(),
                    "summary": _summary(old, entries, excluded),
                },
            )
            return _newest(conn)

    def close(self) -> None:
        self._version.close()


def _no_nul(text: str) -> str:
    return text.replace("\x00", "")


def _newest(conn: db.Conn) -> ListVersion:
    row = conn.row("SELECT * FROM employer_list_versions ORDER BY version DESC LIMIT 1")
    return _from_row(row) if row else ListVersion()


def _from_row(row: Mapping[str, Any]) -> ListVersion:
    return ListVersion(
        version=row["version"],
        entries=[(n, list(a)) for n, a in json.loads(row["entries"])],
        excluded=json.loads(row["excluded"]),
        changed_by_name=row["changed_by_name"],
        changed_at=row["changed_at"],
        summary=row["summary"],
    )


class _Source:
    """One process's view of the list: the recogniser, rebuilt when the version or the alias file changes."""

    LEXICON_RECHECK_S = 2.0  # the alias file is a deployment's file: looked at every few seconds

    def __init__(self, settings: Settings):
        self.lexicon_dir = settings.lexicon_dir
        self.list = EmployerList(db.app_database(settings))
        self._key: tuple[int, tuple] | None = None
        self._recogniser = Recogniser()
        self._lexicon: tuple = ()
        self._lexicon_checked = float("-inf")
        self._lock = threading.Lock()

    def recogniser(self) -> Recogniser:
        """The recogniser for the newest list version (one indexed query per call)."""
        version = self.list.version()
        if time.monotonic() - self._lexicon_checked >= self.LEXICON_RECHECK_S:
            self._lexicon = lexicon_aliases(self.lexicon_dir)  # re-read only when the file changed
            self._lexicon_checked = time.monotonic()
        lexicon = self._lexicon
        key = (version, lexicon)
        with self._lock:
            if key != self._key:
                saved = (self.list.get(version) if version else None) or ListVersion()
                aliases = (*saved.aliases(), *lexicon, *builtin_aliases())
                self._recogniser = Recogniser(aliases, saved.excluded)
                self._key = key
            return self._recogniser


_sources: dict[tuple[str, str], _Source] = {}
_sources_lock = threading.Lock()


def source_for(settings: Settings) -> _Source:
    """This process's view of the list in ``settings``' store (one per store and lexicon)."""
    key = (db.app_database(settings).url, str(settings.lexicon_dir))
    with _sources_lock:
        source = _sources.get(key)
        if source is None:
            source = _sources[key] = _Source(settings)
    return source


def recogniser_for(settings: Settings) -> Recogniser:
    """The employer recogniser with the union's newest list, for this process (checked on each call)."""
    return source_for(settings).recogniser()
