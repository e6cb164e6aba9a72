"""The semantic retriever beside BM25: an embedding model, a vector cache and a vector index.

* ``Embedder`` — BAAI bge-small-zh-v1.5 (int8 ONNX, fetched and pinned by ``search.model``), run
  with onnxruntime on the CPU and the HF ``tokenizers`` WordPiece tokenizer. bge's conventions:
  the [CLS] vector, L2-normalised; documents truncated at 512 tokens. Queries and documents go
  through ``ingest.normalise`` first (traditional→simplified, full→half width), as the lexical
  side does. Any missing, corrupt or unloadable model file raises ``ModelUnavailable``.
* ``VectorCache`` — an SQLite file of vectors keyed by (model, SHA-256 of the embedded text), so
  an unchanged corpus re-ingests without embedding anything.
* ``VectorIndex`` — every text's vector as int8 with a per-row scale (516 bytes a text), one or
  more texts per document (an article's own text, then its everyday questions). A document
  scores its own text's cosine, lifted part of the way (``EXTRA_WEIGHT``) towards its best
  everyday question when that one is closer: question-to-question cosines run higher than
  question-to-article ones (same genre), so a plain max lets any article with everyday
  questions crowd out the rest (measured in bench/semantic.py). Top-k by cosine with an int8
  matrix product (onnxruntime ``MatMulInteger``, ~3 ms for 73,000 vectors on one core; the
  numpy float path is the reference and the fallback).
* ``SemanticRetriever`` — the two together: ``semantic_scores(question, k)`` → ``[(doc_id, cosine)]``
  for the service to fuse with the lexical ranking.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.normalise import normalise
from search_api.search.model import MODEL_FILE, MODEL_ID, TOKENIZER_FILE, ModelUnavailable, verify_model

__all__ = [
    "DIM",
    "QUERY_INSTRUCTION",
    "Embedder",
    "ModelUnavailable",
    "SemanticRetriever",
    "VectorCache",
    "VectorIndex",
    "document_text",
    "texts_by_document",
]

DIM = 512
MAX_TOKENS = 512
# bge-zh's instruction for short retrieval queries (its model card); see USE_INSTRUCTION.
QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："
USE_INSTRUCTION = False  # measured in bench/semantic.py: see the module's docstring there
MAX_QUERY_CHARS = 200
DOC_BATCH_TOKENS = 4096  # padded tokens per document batch (memory: see _session_options)
# score = own + EXTRA_WEIGHT · max(0, best extra text − own); 1.0 would be a plain max over texts.
EXTRA_WEIGHT = 0.5


def _ort():
    try:
        import onnxruntime
    except ImportError as e:  # the package is a dependency; an install without it still answers lexically
        raise ModelUnavailable("未安装 onnxruntime，无法使用语义检索", f"onnxruntime is not installed: {e}") from None
    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


def _session_options(threads: int):
    ort = _ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, int(threads))
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle pool threads must not spin on the web server's cores between queries.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No arena: with it a corpus embedding leaves ~0.4-0.9 GB of freed buffers in the process
    # (measured); without it, and with release_memory() after a bulk embedding, RSS returns.
    so.enable_cpu_mem_arena = False
    return so


def release_memory() -> None:
    """Hand freed heap back to the OS after a bulk embedding (glibc only; a no-op elsewhere)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------------------------------------
# The embedder


class Embedder:
    """bge-small-zh-v1.5 on onnxruntime. Thread-safe (onnxruntime sessions are)."""

    def __init__(self, session: Any, tokenizer: Any, *, threads: int, instruction: bool = USE_INSTRUCTION):
        self._session = session
        self._tokenizer = tokenizer
        self.threads = threads
        self.instruction = instruction
        self.model_id = MODEL_ID
        self._input_names = {i.name for i in session.get_inputs()}

    @classmethod
    def load(
        cls, model_dir: Path, *, threads: int = 1, verify: bool = True, instruction: bool = USE_INSTRUCTION
    ) -> Embedder:
        """Load the model from ``model_dir`` (``model.onnx`` + ``tokenizer.json``).

        ``verify`` checks both files against their pinned SHA-256 first (≈0.1 s). Raises
        ``ModelUnavailable`` — never anything else — when the model cannot be used.
        """
        model_dir = Path(model_dir)
        if verify:
            verify_model(model_dir)
        ort = _ort()
        try:
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ModelUnavailable("未安装 tokenizers，无法使用语义检索", f"tokenizers is not installed: {e}") from None
        try:
            tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.no_padding()
        except Exception as e:  # a damaged JSON file raises a bare Exception from Rust
            raise ModelUnavailable(
                f"语义检索模型的分词文件无法读取：{model_dir / TOKENIZER_FILE}",
                f"cannot load the tokenizer {model_dir / TOKENIZER_FILE}: {e}",
            ) from None
        try:
            session = ort.InferenceSession(
                str(model_dir / MODEL_FILE), _session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise ModelUnavailable(
                f"语义检索模型无法加载：{model_dir / MODEL_FILE}",
                f"cannot load the embedding model {model_dir / MODEL_FILE}: {e}",
            ) from None
        self = cls(session, tokenizer, threads=threads, instruction=instruction)
        try:
            probe = self.embed_queries(["劳动合同"])
        except Exception as e:
            raise ModelUnavailable("语义检索模型试运行失败", f"the embedding model failed a test run: {e}") from None
        if probe.shape != (1, DIM) or not np.isfinite(probe).all():
            raise ModelUnavailable("语义检索模型输出异常", f"unexpected model output of shape {probe.shape}")
        return self

    def _run(self, encodings: Sequence[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        return l2_normalise(hidden[:, 0, :])  # [CLS] pooling

    def _embed(self, texts: Sequence[str], batch_tokens: int) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        start = 0
        while start < len(order):
            # grow the batch while its padded size stays within the budget (lengths ascend)
            end = start + 1
            while end < len(order) and (end - start + 1) * len(encodings[order[end]].ids) <= batch_tokens:
                end += 1
            idx = order[start:end]
            out[idx] = self._run([encodings[i] for i in idx])
            start = end
        return out

    def prepare_query(self, text: str) -> str:
        text = normalise(text.strip())[:MAX_QUERY_CHARS]
        return QUERY_INSTRUCTION + text if self.instruction else text

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per question."""
        return self._embed([self.prepare_query(t) for t in texts], batch_tokens=DOC_BATCH_TOKENS)

    def embed_documents(self, texts: Sequence[str], *, batch_tokens: int = DOC_BATCH_TOKENS) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text; each text cut at 512 tokens."""
        return self._embed([normalise(t) for t in texts], batch_tokens=batch_tokens)


# ---------------------------------------------------------------------------------------------
# What is embedded for a document


def document_text(doc: Any) -> str:
    """The text embedded for a document (an ``ingest.model.Document`` or anything with its fields).

    An article: its law's short title, then the article text (which starts with 第N条) — the
    law's name tells a local rule from a national one. A whole law: its title and opening lines.
    A case, policy or news page: its title and text. The model reads the first 512 tokens.
    """
    kind = getattr(doc, "kind", "")
    text = getattr(doc, "text", "") or ""
    title = getattr(doc, "title", "") or ""
    if kind == "article":
        return f"{getattr(doc, 'short_title', '') or getattr(doc, 'source_title', '')} {text}".strip()
    if text.startswith(title):
        return text[:2000]
    return f"{title}\n{text[:2000]}".strip()


def texts_by_document(docs: Iterable[Any], extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """``{doc_id: [its own text, *extra texts]}`` — ``extra`` maps an article id to its everyday
    questions (``ingest.everyday.questions_by_article``); ids not among ``docs`` are ignored."""
    out = {d.id: [document_text(d)] for d in docs}
    for doc_id, questions in (extra or {}).items():
        if doc_id in out:
            out[doc_id].extend(q for q in questions if q and q.strip())
    return out


# ---------------------------------------------------------------------------------------------
# The vector cache


def text_key(text: str, model_id: str = MODEL_ID) -> bytes:
    """The cache key of one document text: 16 bytes of SHA-256 over the model id and the text."""
    return hashlib.sha256(f"{model_id}\x00doc\x00{text}".encode()).digest()[:16]


class VectorCache:
    """Document vectors (float16) keyed by ``text_key``, in one SQLite file.

    Keyed by the exact text embedded (and the model), not by file: changing one article of a
    law re-embeds that article only, and a corpus that did not change embeds nothing. Safe to
    use from several threads (one connection under a lock); a damaged file is replaced.
    """

    CHUNK = 900  # keys per SELECT (SQLite's default variable limit is higher; this stays portable)

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:
            self.path.unlink(missing_ok=True)  # a cache: rebuilt from the model on demand
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")
        return db

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), self.CHUNK):
                chunk = list(keys[i : i + self.CHUNK])
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk):
                    if len(blob) == DIM * 2:
                        found[bytes(key)] = np.frombuffer(blob, dtype=np.float16)
        return found

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(k, np.asarray(v, dtype=np.float16).tobytes()) for k, v in items]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def prune(self, keep: Iterable[bytes]) -> int:
        """Drop vectors of texts no longer in the corpus; returns how many were dropped."""
        keep = set(keep)
        with self._lock:
            stale = [k for (k,) in self._db.execute("SELECT key FROM vectors") if bytes(k) not in keep]
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in stale])
            self._db.execute("COMMIT")
        return len(stale)

    def close(self) -> None:
        with self._lock:
            self._db.close()


# ---------------------------------------------------------------------------------------------
# int8 top-k


def quantise_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 in [-127, 127] and its scale: row ≈ q * scale."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.abs(x).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


# The query is quantised to [-63, 63] and offset by +64 into uint8 [1, 127] for onnxruntime's
# u8×s8 kernel: a pair of products then stays below 2·127·127 = 32,258, so the AVX2 kernel's
# 16-bit intermediate sums cannot saturate. The offset is removed with the column sums.
Q_RANGE, Q_OFFSET = 63, 64


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _pb(field: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _pb_varint(field << 3) + _pb_varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _pb_varint(field << 3 | 2) + _pb_varint(len(data)) + data


def _matmul_integer_model() -> bytes:
    """An ONNX model, ``Y[m, n] = MatMulInteger(A uint8[m, 512], B int8[512, n])`` (int32),
    protobuf-encoded by hand so no ``onnx`` package is needed (field numbers from onnx.proto)."""
    uint8, int8, int32 = 2, 3, 6

    def value_info(name: str, elem: int, dims: list[int | str]) -> bytes:
        shape = b"".join(_pb(1, _pb(1, d) if isinstance(d, int) else _pb(2, d)) for d in dims)
        tensor_type = _pb(1, elem) + _pb(2, shape)
        return _pb(1, name) + _pb(2, _pb(1, tensor_type))

    node = _pb(1, "A") + _pb(1, "B") + _pb(2, "Y") + _pb(3, "scores") + _pb(4, "MatMulInteger")
    graph = (
        _pb(1, node)
        + _pb(2, "int8_scores")
        + _pb(11, value_info("A", uint8, ["m", DIM]))
        + _pb(11, value_info("B", int8, [DIM, "n"]))
        + _pb(12, value_info("Y", int32, ["m", "n"]))
    )
    opset = _pb(1, "") + _pb(2, 13)
    return _pb(1, 8) + _pb(2, "labourkb") + _pb(7, graph) + _pb(8, opset)


_SCORER: Any = None
_SCORER_LOCK = threading.Lock()


def _int8_scorer() -> Any | None:
    """The shared onnxruntime session of ``_matmul_integer_model`` (None when unavailable)."""
    global _SCORER
    with _SCORER_LOCK:
        if _SCORER is None:
            try:
                ort = _ort()
                _SCORER = ort.InferenceSession(
                    _matmul_integer_model(), _session_options(1), providers=["CPUExecutionProvider"]
                )
            except Exception:
                _SCORER = False
        return _SCORER or None


class VectorIndex:
    """The vectors of every indexed text, and the top-k documents by cosine.

    Layout: one column per document's own text, in document order, then one column per extra
    text (everyday questions), grouped by document. A document's score is its own text's
    cosine, lifted by ``extra_weight`` towards its best extra text when that is closer:
    ``own + extra_weight · max(0, best_extra − own)`` (1.0 would be a plain max).

    Memory: 520 bytes per text (int8 column + scale + offset) plus the id list — about 40 MB
    for the ×20 corpus (73,000 documents and 2,400 everyday questions).
    """

    def __init__(
        self,
        doc_ids: list[str],
        matrix_t: np.ndarray,
        scales: np.ndarray,
        extra_owner: np.ndarray | None = None,
        *,
        use_onnx: bool = True,
        extra_weight: float = EXTRA_WEIGHT,
    ):
        self.doc_ids = list(doc_ids)
        self.matrix_t = np.ascontiguousarray(matrix_t, dtype=np.int8)  # [DIM, texts]
        self.scales = np.asarray(scales, dtype=np.float32)  # [texts]
        # removes the query's uint8 offset: Q_OFFSET · Σ column, in cosine units before the query scale
        self._bias = (Q_OFFSET * self.matrix_t.sum(axis=0, dtype=np.int64)).astype(np.float32) * self.scales
        owner = np.zeros(0, dtype=np.int32) if extra_owner is None else np.asarray(extra_owner, dtype=np.int32)
        if self.rows != len(self.doc_ids) + len(owner):
            raise ValueError("one column per document, then one per extra text")
        if len(owner) and (np.any(np.diff(owner) < 0) or owner[0] < 0 or owner[-1] >= len(self.doc_ids)):
            raise ValueError("extra texts must be grouped by document, in document order")
        self.extra_owner = owner
        self._extra_docs, self._extra_starts = (
            np.unique(owner, return_index=True) if len(owner) else (owner, np.zeros(0, dtype=np.int64))
        )
        self.extra_weight = float(extra_weight)
        self._scorer = _int8_scorer() if use_onnx and self.rows else None

    # -- building

    @classmethod
    def from_vectors(
        cls, texts: Mapping[str, Sequence[bytes]], vectors: Mapping[bytes, np.ndarray], **kw
    ) -> VectorIndex:
        """``texts``: doc_id → keys of its texts (``text_key``), its own text first; ``vectors``:
        key → vector. A document whose own text has no vector is left out, and so is an extra
        text without one."""
        doc_ids: list[str] = []
        own: list[np.ndarray] = []
        extras: list[np.ndarray] = []
        owner: list[int] = []
        for doc_id, keys in texts.items():
            if not keys or keys[0] not in vectors:
                continue
            d = len(doc_ids)
            doc_ids.append(doc_id)
            own.append(vectors[keys[0]])
            for k in dict.fromkeys(keys[1:]):
                if k != keys[0] and k in vectors:
                    extras.append(vectors[k])
                    owner.append(d)
        rows = np.asarray(own + extras, dtype=np.float32).reshape(-1, DIM)
        q, scales = quantise_rows(l2_normalise(rows) if len(rows) else rows)
        return cls(doc_ids, q.T, scales, np.asarray(owner, dtype=np.int32), **kw)

    @classmethod
    def build(
        cls,
        texts: Mapping[str, Sequence[str]],
        embedder: Embedder | Callable[[], Embedder] | None,
        cache: VectorCache | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 256,
        **kw,
    ) -> VectorIndex:
        """The index of ``texts`` (doc_id → its own text, then its extra texts), embedding only
        the texts the cache lacks.

        ``embedder`` may be a callable that loads it, so a fully cached corpus never loads the
        model to build. Without an embedder, texts the cache lacks are left out: their
        documents are not found semantically until they are embedded.
        """
        keys = {doc_id: [text_key(t) for t in ts] for doc_id, ts in texts.items()}
        text_of: dict[bytes, str] = {}
        for doc_id, ts in texts.items():
            for k, t in zip(keys[doc_id], ts, strict=True):
                text_of.setdefault(k, t)
        vectors: dict[bytes, np.ndarray] = cache.get_many(list(text_of)) if cache is not None else {}
        missing = [k for k in text_of if k not in vectors]
        if missing and embedder is not None:
            emb = embedder if isinstance(embedder, Embedder) else embedder()
            missing.sort(key=lambda k: len(text_of[k]))  # similar lengths batch together
            try:
                for i in range(0, len(missing), chunk):
                    part = missing[i : i + chunk]
                    fresh = dict(zip(part, emb.embed_documents([text_of[k] for k in part]), strict=True))
                    vectors.update(fresh)
                    if cache is not None:
                        cache.put_many(fresh.items())
                    if progress:
                        progress(min(i + chunk, len(missing)), len(missing))
            finally:
                release_memory()
        return cls.from_vectors(keys, vectors, **kw)

    # -- facts

    @property
    def rows(self) -> int:
        """How many texts have a vector."""
        return self.matrix_t.shape[1]

    def __len__(self) -> int:
        return len(self.doc_ids)

    @property
    def nbytes(self) -> int:
        arrays = (self.matrix_t, self.scales, self._bias, self.extra_owner, self._extra_docs, self._extra_starts)
        return sum(a.nbytes for a in arrays) + sum(sys.getsizeof(d) + 8 for d in self.doc_ids)

    # -- search

    def _raw_scores(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        """Scores proportional to the cosines (one positive factor for all), and that factor."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        top = float(np.abs(query).max()) or 1.0
        qq = np.rint(query * (Q_RANGE / top)).astype(np.int16)
        a = (qq + Q_OFFSET).astype(np.uint8)[None, :]
        y = self._scorer.run(None, {"A": a, "B": self.matrix_t})[0][0]
        raw = y.astype(np.float32)
        raw *= self.scales
        raw -= self._bias
        return raw, top / Q_RANGE

    def row_scores(self, query: np.ndarray) -> np.ndarray:
        """The cosine of the (L2-normalised) query vector with every text, float32."""
        if self._scorer is None:
            return self.exact_row_scores(query)
        raw, factor = self._raw_scores(query)
        return raw * factor

    def exact_row_scores(self, query: np.ndarray, block: int = 4096) -> np.ndarray:
        """The reference and the fallback without onnxruntime: the int8 columns in float32,
        block by block (exact for the stored vectors, ~4× slower)."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        out = np.empty(self.rows, dtype=np.float32)
        for i in range(0, self.rows, block):
            out[i : i + block] = query @ self.matrix_t[:, i : i + block].astype(np.float32)
        return out * self.scales

    def _doc_scores(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        if self._scorer is None:
            raw, factor = self.exact_row_scores(query), 1.0
        else:
            raw, factor = self._raw_scores(query)
        n = len(self.doc_ids)
        scores = raw[:n]
        if len(self.extra_owner):
            best = np.maximum.reduceat(raw[n:], self._extra_starts)
            lift = best - scores[self._extra_docs]
            np.maximum(lift, 0, out=lift)
            scores[self._extra_docs] += self.extra_weight * lift
        return scores, factor

    def doc_scores(self, query: np.ndarray) -> np.ndarray:
        """Every document's score (see the class), in ``doc_ids`` order."""
        scores, factor = self._doc_scores(query)
        return scores * factor

    def search(self, query: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best documents as ``(doc_id, cosine)``, best first."""
        if not self.doc_ids or k <= 0:
            return []
        scores, factor = self._doc_scores(query)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.doc_ids[i], float(scores[i] * factor)) for i in top]


# ---------------------------------------------------------------------------------------------
# The retriever


class SemanticRetriever:
    """An embedder and an index: what the search service holds when the model is available."""

    def __init__(self, embedder: Embedder, index: VectorIndex, *, query_cache: int = 512):
        self.embedder = embedder
        self.index = index
        self._cache_size = query_cache
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_query(self, question: str) -> np.ndarray:
        """The question's vector; the last ``query_cache`` questions are remembered (workers
        ask the same few things: a repeated question costs no model run)."""
        key = question.strip()
        with self._lock:
            vec = self._cache.get(key)
            if vec is not None:
                self._cache.move_to_end(key)
                return vec
        vec = self.embedder.embed_queries([key])[0]
        if self._cache_size > 0:
            with self._lock:
                self._cache[key] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vec

    def semantic_scores(self, question: str, k: int = 50) -> list[tuple[str, float]]:
        """The ``k`` documents nearest to ``question`` as ``(doc_id, cosine)``, best first.

        Cosines of this model sit in a narrow band (≈0.3–0.8 for Chinese text): fuse after
        normalising them (see bench/semantic.py), not as raw scores. An empty question → [].
        """
        if not question or not question.strip():
            return []
        return self.index.search(self.embed_query(question), k)

    @classmethod
    def build(
        cls,
        model_dir: Path,
        texts: Mapping[str, Sequence[str]],
        cache_path: Path | None = None,
        *,
        threads: int = 1,
    ) -> tuple[SemanticRetriever, dict[str, float]]:
        """Load the model and index ``texts``; returns the retriever and timings (seconds).
        Raises ``ModelUnavailable`` when the model cannot be loaded."""
        t0 = time.perf_counter()
        embedder = Embedder.load(model_dir, threads=threads)
        t1 = time.perf_counter()
        cache = VectorCache(cache_path) if cache_path else None
        try:
            index = VectorIndex.build(texts, embedder, cache)
        finally:
            if cache is not None:
                cache.close()
        t2 = time.perf_counter()
        return cls(embedder, index), {"load_s": t1 - t0, "index_s": t2 - t1}
