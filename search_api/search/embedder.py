"""The embedding model, and the int8 arithmetic the vector index runs, both on onnxruntime.

``Embedder`` runs BAAI bge-small-zh-v1.5 (int8 ONNX, fetched and pinned by ``search.model``) on
the CPU, with the HF ``tokenizers`` WordPiece tokenizer. bge's conventions: the [CLS] vector,
L2-normalised; documents truncated at 512 tokens. Queries and documents go through
``ingest.normalise`` first (traditional→simplified, full→half width), as the lexical side does.
Any missing, corrupt or unloadable model file raises ``ModelUnavailable``.

The int8 side (used by ``search.vectors``): ``quantise_rows`` turns vectors into int8 rows with
a scale, and ``_int8_scorer`` is a second, tiny onnxruntime session — ``MatMulInteger`` of a
uint8 query by the index's int8 matrix, its model protobuf-encoded by hand.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ingest.normalise import normalise
from search_api.search.model import MODEL_FILE, MODEL_ID, TOKENIZER_FILE, ModelUnavailable, verify_model

log = logging.getLogger(__name__)

DIM = 512
MAX_TOKENS = 512
# bge-zh's instruction for short retrieval queries (its model card); see USE_INSTRUCTION.
QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："
# Off: on the main set the instruction lowered pure-semantic nDCG@10 by 0.04-0.06 (bench/semantic.py).
USE_INSTRUCTION = False
MAX_QUERY_CHARS = 200
DOC_WORKERS = min(2, os.cpu_count() or 1)  # parallel model runs for a bulk document embedding


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


def _glibc(call: str, *args: int) -> None:
    """``call(*args)`` of glibc's allocator, where there is one (a no-op elsewhere)."""
    try:
        import ctypes

        getattr(ctypes.CDLL("libc.so.6"), call)(*args)
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Hand freed heap back to the OS after a bulk embedding (glibc only; a no-op elsewhere)."""
    _glibc("malloc_trim", 0)


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD = 1024 * 1024


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at 1 MB (glibc only; a no-op elsewhere). By default it rises
    to the size of the largest buffer freed, so large temporaries (the model's activations while
    the corpus is embedded) are then carved from the heap, which fragments and keeps growing; at a
    fixed threshold they go back to the OS when freed. Not lower: each allocation above it is a
    fresh mapping faulted in page by page, and at 128 KB a search's few-hundred-KB arrays (the
    coarse pass's scores and their partition) took 3-4x as long as from the heap. Measured at ×20
    (docs/benchmarks.md): peak RSS of a served worker 388 MB at 128 KB, 389-391 at 1 MB, 393 at
    2 MB, 399 at 4 MB; the vector search ~1.5 ms faster at 1 MB than at 128 KB."""
    _glibc("mallopt", M_MMAP_THRESHOLD, MMAP_THRESHOLD)


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
        fix_mmap_threshold()  # before the model's first buffers
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
        embedder = cls(session, tokenizer, threads=threads, instruction=instruction)
        probe = embedder.embed_queries(["劳动合同"])  # a test run: ModelUnavailable if it fails
        if probe.shape != (1, DIM) or not np.isfinite(probe).all():
            raise ModelUnavailable("语义检索模型输出异常", f"unexpected model output of shape {probe.shape}")
        return embedder

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
        try:
            hidden = self._session.run(None, feeds)[0]
        except Exception as e:  # e.g. out of memory: the caller answers lexically
            raise ModelUnavailable("语义检索模型运行失败", f"the embedding model failed to run: {e}") from None
        return l2_normalise(hidden[:, 0, :])  # [CLS] pooling

    def _embed(self, texts: Sequence[str], workers: int = 1) -> np.ndarray:
        """One text per model run. Batching was measured slower on CPU (padding), and with this
        model's per-tensor dynamic quantisation it makes a text's vector depend on the texts
        batched with it (cosine 0.99 to itself alone): one at a time, a text always gets the
        same vector, the one its cache key promises. ``workers`` threads run texts in parallel."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)

        def run(i: int) -> None:
            out[i] = self._run([encodings[i]])[0]

        if workers <= 1 or len(texts) < 2:
            for i in range(len(texts)):
                run(i)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed") as pool:
                for _ in pool.map(run, range(len(texts))):
                    pass
        return out

    def prepare_query(self, text: str) -> str:
        text = normalise(text.strip())[:MAX_QUERY_CHARS]
        return QUERY_INSTRUCTION + text if self.instruction else text

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per question. ``ModelUnavailable`` if the
        model fails to run."""
        return self._embed([self.prepare_query(t) for t in texts])

    def embed_documents(self, texts: Sequence[str], *, workers: int | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text; each text cut at 512 tokens.
        ``workers``: parallel model runs (default: ``DOC_WORKERS``)."""
        return self._embed([normalise(t) for t in texts], workers=DOC_WORKERS if workers is None else workers)


# ---------------------------------------------------------------------------------------------
# int8 scoring on onnxruntime (the vector index's kernel)


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


def _matmul_integer_model(dim: int = DIM, *, rows_first: bool = False, b_file: tuple[str, int] | None = None) -> bytes:
    """An ONNX model, ``Y[m, n] = MatMulInteger(A uint8[m, dim], B int8[dim, n])`` (int32),
    protobuf-encoded by hand so no ``onnx`` package is needed (field numbers from onnx.proto).
    ``rows_first``: ``A int8[m, dim]`` (vectors as rows) by ``B uint8[dim, n]`` (the query).
    ``b_file`` (file name, n): B is a constant, the raw int8 bytes of that file beside the model
    (ONNX external data) — an initializer of the graph instead of an input."""
    uint8, int8, int32 = 2, 3, 6
    if rows_first:
        uint8, int8 = int8, uint8
    n: int | str = "n"
    constant = b""
    if b_file is not None:
        name, n = b_file
        # TensorProto: dims (1), data_type (2), name (8), external_data (13), data_location (14: EXTERNAL)
        where = b"".join(_pb(13, _pb(1, k) + _pb(2, v)) for k, v in (("location", name), ("offset", "0")))
        constant = _pb(5, _pb(1, dim) + _pb(1, n) + _pb(2, int8) + _pb(8, "B") + where + _pb(14, 1))

    def value_info(name: str, elem: int, dims: list[int | str]) -> bytes:
        shape = b"".join(_pb(1, _pb(1, d) if isinstance(d, int) else _pb(2, d)) for d in dims)
        tensor_type = _pb(1, elem) + _pb(2, shape)
        return _pb(1, name) + _pb(2, _pb(1, tensor_type))

    node = _pb(1, "A") + _pb(1, "B") + _pb(2, "Y") + _pb(3, "scores") + _pb(4, "MatMulInteger")
    graph = (
        _pb(1, node)
        + _pb(2, "int8_scores")
        + constant
        + _pb(11, value_info("A", uint8, ["m", dim]))
        + (b"" if constant else _pb(11, value_info("B", int8, [dim, n])))
        + _pb(12, value_info("Y", int32, ["m", n]))
    )
    opset = _pb(1, "") + _pb(2, 13)
    return _pb(1, 8) + _pb(2, "labourkb") + _pb(7, graph) + _pb(8, opset)


_SCORERS: dict[tuple[int, bool], Any] = {}
_SCORER_LOCK = threading.Lock()


def _int8_scorer(dim: int = DIM, *, rows_first: bool = False) -> Any | None:
    """The shared onnxruntime session of ``_matmul_integer_model`` (None when unavailable)."""
    key = (dim, rows_first)
    with _SCORER_LOCK:
        if key not in _SCORERS:
            try:
                ort = _ort()
                model = _matmul_integer_model(dim, rows_first=rows_first)
                _SCORERS[key] = ort.InferenceSession(model, _session_options(1), providers=["CPUExecutionProvider"])
            except Exception:
                _SCORERS[key] = False
        return _SCORERS[key] or None


def int8_matrix_scorer(matrix_t: np.ndarray) -> Any | None:
    """A session scoring uint8 queries ``A [m, dim]`` against this one int8 matrix [dim, n], held as
    a constant (None when onnxruntime is unavailable or no temporary file can be written).

    onnxruntime packs a constant B for its kernel once, at load; a B passed with each run is packed
    again on every run: for the ×20 coarse projection (128 × 75,851) 0.7 ms a query instead of 2.4.
    The matrix reaches it as external data, a file read while the session loads and then released:
    the session keeps only the packed copy. (Embedded in the model bytes, the graph's own copy of the
    tensor stayed as well: twice the matrix, for the lifetime of the index.)"""
    matrix_t = _contiguous_int8(matrix_t)
    return int8_file_scorer(matrix_t.shape, matrix_t.tofile)


def int8_file_scorer(shape: tuple[int, int], write: Callable[[str], None]) -> Any | None:
    """``int8_matrix_scorer`` of the int8 matrix [dim, n] that ``write(path)`` puts in a file there
    (raw bytes, C order): a caller that builds the matrix straight into that file holds no copy of
    its own while the session loads (the load reads the file and packs it: two copies at its peak)."""
    dim, n = shape
    try:
        ort = _ort()
        with tempfile.TemporaryDirectory(prefix="labourkb-int8-") as tmp:
            write(os.path.join(tmp, "b.int8"))
            model = os.path.join(tmp, "scores.onnx")
            Path(model).write_bytes(_matmul_integer_model(dim, b_file=("b.int8", n)))
            return ort.InferenceSession(model, _session_options(1), providers=["CPUExecutionProvider"])
    except Exception as e:
        log.warning("vector index: no int8 kernel (%s); its vectors are scored in numpy, ~4x slower", e)
        return None


def _contiguous_int8(m: np.ndarray) -> np.ndarray:
    """``m`` as a C-contiguous int8 array, transposed views copied block by block (much faster
    than one strided copy of a large int8 matrix)."""
    m = np.asarray(m)
    if m.dtype == np.int8 and m.flags.c_contiguous:
        return m
    out = np.empty(m.shape, dtype=np.int8)
    for i in range(0, m.shape[1], 4096):
        out[:, i : i + 4096] = m[:, i : i + 4096]
    return out
