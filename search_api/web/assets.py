"""The site's static files (``search_api/web/static``), served under content-hashed names.

Pages link ``static_url("style.css")`` → ``/static/style.<hash>.css``. A hashed name always
holds the same bytes, so browsers may keep it for a year without asking again; a changed
file gets a new name, and the next page fetches it. The plain name is still served, but
must be revalidated (``no-cache``). Hashes are computed once, when the app is built.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def hashed_name(name: str, content: bytes) -> str:
    """``css/style.css`` → ``css/style.<12 hex digits of SHA-256>.css``."""
    path = PurePosixPath(name)
    digest = hashlib.sha256(content).hexdigest()[:12]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


class HashedStaticFiles(StaticFiles):
    """``StaticFiles`` that also answers each file's hashed name, with a year-long cache."""

    def __init__(self, directory: Path = STATIC_DIR, prefix: str = STATIC_PREFIX):
        super().__init__(directory=directory)
        self.prefix = prefix
        self.hashed: dict[str, str] = {}  # name → hashed name
        self.originals: dict[str, str] = {}  # hashed name → name
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                name = path.relative_to(directory).as_posix()
                self.hashed[name] = hashed_name(name, path.read_bytes())
                self.originals[self.hashed[name]] = name

    def url(self, name: str) -> str:
        """The URL of static file ``name`` under its hashed name (KeyError for a file that is not there)."""
        return f"{self.prefix}/{self.hashed[name]}"

    async def get_response(self, path: str, scope: Scope) -> Response:
        original = self.originals.get(path)
        response = await super().get_response(original or path, scope)
        response.headers["Cache-Control"] = IMMUTABLE if original else REVALIDATE
        return response
