"""The site secret: salts visitor ids, signs the help form's stamps, and (without
``LABOURKB_DATA_KEYS``) derives the key that seals workers' personal data.

Every app server of a site must hold the same one, or a form served by one server is refused
by the next and sealed data opened by none but its writer. In order of precedence:

1. ``LABOURKB_SECRET_KEY`` (``settings.secret_key``), when configured;
2. with ``LABOURKB_DATABASE_URL`` (PostgreSQL): the row ``secret_key`` of the app store's
   ``site_values`` table. The first server to start stores a random one, and every server
   reads back whatever is stored, so servers starting together agree
   (``labourkb store migrate`` carries an existing ``secret.key`` file there);
3. else ``<data_dir>/secret.key``: created once (mode 0600) and kept with the SQLite files.

It is read once per app (``create_app``) or command, not per request, so nothing is cached.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

from search_api import db

if TYPE_CHECKING:
    from search_api.settings import Settings

SECRET_NAME = "secret_key"  # its row in site_values
SECRET_FILE = "secret.key"


def new_secret() -> str:
    return secrets.token_hex(32)


def load_secret(settings: Settings) -> bytes:
    """The site secret (see the module docstring), as bytes."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    if settings.database_url:
        return _stored_secret(db.app_database(settings)).encode("ascii")
    return _file_secret(settings)


def _stored_secret(database: db.Database) -> str:
    """The secret every server on ``database`` shares: stored by the first to ask."""
    with database.transaction() as conn:
        conn.execute(
            "INSERT INTO site_values (name, value, created_at) VALUES (:name, :value, :now)"
            " ON CONFLICT (name) DO NOTHING",
            {"name": SECRET_NAME, "value": new_secret(), "now": db.now_iso()},
        )
        return conn.scalar("SELECT value FROM site_values WHERE name = :name", {"name": SECRET_NAME}).strip()


def _file_secret(settings: Settings) -> bytes:
    path = settings.data_dir / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(new_secret() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_text(encoding="ascii").strip().encode("ascii")
