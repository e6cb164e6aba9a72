"""The semantic retriever: the model fetched from its registry package and pinned by SHA-256, the
real embedder (no mocks), the vector cache, the int8 index, and ModelUnavailable for every way
the model can be missing or broken.

The model (a 16 MB jar from Maven Central) is taken from $LABOURKB_MODEL_DIR or data/model when
one is there and verifies, else fetched once per session into a temporary directory. Tests that
need it are skipped, with the reason, only when it can be neither found nor fetched.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from search_api.search import model as model_mod
from search_api.search.embedder import _int8_scorer, _matmul_integer_model, int8_matrix_scorer
from search_api.search.model import (
    FILES,
    MODEL_FILE,
    TOKENIZER_FILE,
    ModelUnavailable,
    fetch_model,
    model_ok,
    verify_model,
)
from search_api.search.semantic import (
    DIM,
    EXTRA_WEIGHT,
    Embedder,
    SemanticRetriever,
    VectorCache,
    VectorIndex,
    document_text,
    document_texts,
    fill_cache,
    l2_normalise,
    quantise_rows,
    texts_by_document,
)
from tests.conftest import REPO_ROOT

UNREACHABLE = "http://127.0.0.1:9/no-such-jar.jar"  # port 9 (discard): refused at once


@pytest.fixture(scope="session")
def model_jar(tmp_path_factory) -> Path:
    """The real jar from Maven Central, downloaded once per session."""
    path = tmp_path_factory.mktemp("jar") / model_mod.JAR_NAME
    try:
        with urllib.request.urlopen(model_mod.JAR_URL, timeout=60) as resp:
            path.write_bytes(resp.read())
    except OSError as e:
        pytest.skip(f"cannot download the model jar from Maven Central: {e}")
    return path


@pytest.fixture(scope="session")
def model_dir(request, tmp_path_factory) -> Path:
    for candidate in (os.environ.get("LABOURKB_MODEL_DIR"), REPO_ROOT / "data" / "model"):
        if candidate and model_ok(Path(candidate)):
            return Path(candidate)
    jar = request.getfixturevalue("model_jar")
    try:
        return fetch_model(tmp_path_factory.mktemp("model"), jar=jar)
    except ModelUnavailable as e:
        pytest.skip(f"the embedding model can be neither found nor fetched: {e}")


@pytest.fixture(scope="session")
def embedder(model_dir) -> Embedder:
    return Embedder.load(model_dir)


def copy_model(model_dir: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copyfile(model_dir / f.name, dest / f.name)
    return dest


def fake_jar(tmp_path: Path, model_bytes: bytes = b"not a model", tokenizer_bytes: bytes = b"{}") -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(FILES[0].member, model_bytes)
        zf.writestr(FILES[1].member, tokenizer_bytes)
    path = tmp_path / "tampered.jar"
    path.write_bytes(buf.getvalue())
    return path


# --- fetching and verifying ------------------------------------------------------------------


def test_a_jar_that_fails_its_pinned_hash_is_refused(tmp_path):
    dest = tmp_path / "model"
    with pytest.raises(ModelUnavailable) as exc:
        fetch_model(dest, jar=fake_jar(tmp_path))
    assert "SHA-256" in str(exc.value) and "拒绝" in exc.value.zh
    assert not (dest / MODEL_FILE).exists() and not (dest / TOKENIZER_FILE).exists()


def test_a_file_inside_the_jar_that_fails_its_own_hash_is_refused(tmp_path, monkeypatch):
    # Pin this tampered jar as if it were the real one: the per-file hash must still refuse it.
    jar = fake_jar(tmp_path)
    monkeypatch.setattr(model_mod, "JAR_SHA256", hashlib.sha256(jar.read_bytes()).hexdigest())
    dest = tmp_path / "model"
    with pytest.raises(ModelUnavailable, match="校验失败"):
        fetch_model(dest, jar=jar)
    assert not (dest / MODEL_FILE).exists()


def test_no_network_gives_a_clear_chinese_and_english_error(tmp_path):
    with pytest.raises(ModelUnavailable) as exc:
        fetch_model(tmp_path / "model", url=UNREACHABLE, timeout=5)
    assert "Maven Central" in exc.value.zh and "--jar" in exc.value.zh
    assert "cannot reach Maven Central" in exc.value.en


def test_fetch_downloads_verifies_and_writes_the_pinned_files(tmp_path):
    try:
        dest = fetch_model(tmp_path / "model")  # the real download from Maven Central
    except ModelUnavailable as e:
        pytest.skip(f"Maven Central unreachable: {e}")
    assert sorted(p.name for p in dest.iterdir()) == sorted(f.name for f in FILES)
    verify_model(dest)


def test_fetch_is_idempotent_and_repairs_a_tampered_file(model_dir, model_jar, tmp_path):
    dest = copy_model(model_dir, tmp_path / "model")
    # present and verified: nothing is downloaded (the URL is unreachable)
    assert fetch_model(dest, url=UNREACHABLE) == dest
    data = bytearray((dest / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (dest / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        verify_model(dest)
    with pytest.raises(ModelUnavailable):  # tampered, and the registry unreachable
        fetch_model(dest, url=UNREACHABLE)
    assert fetch_model(dest, jar=model_jar) == dest  # a local copy of the jar, as offline servers get it
    verify_model(dest)
    assert not list(dest.glob(".*.part")), "no temporary files left behind"


# --- the embedder ----------------------------------------------------------------------------


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_paraphrases_are_near_and_unrelated_text_is_far(embedder):
    v = embedder.embed_queries(
        [
            "被公司炒鱿鱼了有赔偿吗",
            "公司把我辞退了要给经济补偿吗",
            "今天天气很好，适合去公园散步",
            "上班路上出车祸算工伤吗",
            "上下班途中发生交通事故能认定工伤吗",
        ]
    )
    assert v.shape == (5, DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert cos(v[0], v[1]) > cos(v[0], v[2]) + 0.15
    assert cos(v[3], v[4]) > cos(v[3], v[2]) + 0.15
    assert cos(v[3], v[4]) > cos(v[3], v[0])


def test_traditional_and_full_width_input_embed_like_simplified(embedder):
    a, b = embedder.embed_queries(["公司拖欠工资怎么办", "公司拖欠工資怎麼辦？"])
    assert cos(a, b) > 0.97


def test_documents_are_cut_at_512_tokens_and_embed_alike_alone_or_in_bulk(embedder):
    long = "劳动者依法享有带薪年休假。" * 200  # ~2,600 characters
    docs = ["第一条 为了保护劳动者的合法权益，制定本法。", long, "工伤", long + "不同的结尾"]
    v = embedder.embed_documents(docs)
    assert v.shape == (4, DIM)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert cos(v[1], v[3]) > 0.999  # the tails differ only after the 512th token
    one_by_one = np.vstack([embedder.embed_documents([d], workers=1) for d in docs])
    assert np.allclose(v, one_by_one, atol=1e-6)  # a text's vector never depends on its neighbours
    assert embedder.embed_documents([]).shape == (0, DIM)


# --- ModelUnavailable ------------------------------------------------------------------------


def test_missing_model_raises_model_unavailable_in_chinese(tmp_path):
    with pytest.raises(ModelUnavailable) as exc:
        Embedder.load(tmp_path / "nothing-here")
    assert "缺失" in str(exc.value) and "labourkb model fetch" in exc.value.zh


@pytest.mark.parametrize("broken", [MODEL_FILE, TOKENIZER_FILE])
def test_corrupt_model_file_raises_model_unavailable(model_dir, tmp_path, broken):
    dest = copy_model(model_dir, tmp_path / "model")
    path = dest / broken
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])  # truncated
    with pytest.raises(ModelUnavailable, match="损坏"):
        Embedder.load(dest)
    # even unverified, a broken file is ModelUnavailable, never another exception
    with pytest.raises(ModelUnavailable):
        Embedder.load(dest, verify=False)


# --- the vector cache and the index ----------------------------------------------------------


class CountingEmbedder(Embedder):
    """The real embedder, counting the document texts it is asked to embed."""

    def __init__(self, real: Embedder):
        super().__init__(real._session, real._tokenizer, threads=real.threads, instruction=real.instruction)
        self.embedded: list[str] = []

    def embed_documents(self, texts, **kw):
        self.embedded.extend(texts)
        return super().embed_documents(texts, **kw)


def doc(id_: str, text: str, kind: str = "article", short_title: str = "劳动合同法"):
    return SimpleNamespace(id=id_, kind=kind, text=text, title=f"{short_title} {id_}", short_title=short_title)


DOCS = [
    doc("lcl.47", "第四十七条 经济补偿按劳动者在本单位工作的年限，每满一年支付一个月工资的标准向劳动者支付。"),
    doc(
        "arb.53",
        "第五十三条 劳动争议仲裁不收费。劳动争议仲裁委员会的经费由财政予以保障。",
        short_title="劳动争议调解仲裁法",
    ),
    doc(
        "inj.14",
        "第十四条 职工有下列情形之一的，应当认定为工伤：（六）在上下班途中，受到非本人主要责任的交通事故伤害的。",
        short_title="工伤保险条例",
    ),
    doc("leave.3", "第三条 职工累计工作已满1年不满10年的，年休假5天。", short_title="职工带薪年休假条例"),
]
EVERYDAY = {"lcl.47": ["被公司辞退能拿几个月工资的补偿", "干了三年被开除，补偿怎么算"]}


def test_the_cache_skips_unchanged_texts_and_embeds_only_changed_ones(embedder, tmp_path):
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    texts = texts_by_document(DOCS, EVERYDAY)
    first = CountingEmbedder(embedder)
    index = VectorIndex.build(texts, first, cache)
    assert len(first.embedded) == len(DOCS) + 2 and len(cache) == len(DOCS) + 2
    assert len(index) == len(DOCS) and index.rows == len(DOCS) + 2

    again = CountingEmbedder(embedder)
    same = VectorIndex.build(texts, again, cache)
    assert again.embedded == []
    assert np.array_equal(same.matrix_t, index.matrix_t)

    # no model at all: a fully cached corpus still builds
    assert len(VectorIndex.build(texts, None, cache)) == len(DOCS)
    # a lazily loaded model is not loaded when nothing is missing
    VectorIndex.build(texts, lambda: pytest.fail("the model was loaded for nothing"), cache)

    changed = [*DOCS[:-1], doc("leave.3", "第三条 职工累计工作已满10年不满20年的，年休假10天。")]
    third = CountingEmbedder(embedder)
    VectorIndex.build(texts_by_document(changed, EVERYDAY), third, cache)
    assert third.embedded == [document_text(changed[-1])]
    cache.close()

    # the cache persists across processes (a new connection sees it) and a damaged file is replaced
    reopened = VectorCache(tmp_path / "vectors.sqlite3")
    assert len(reopened) == len(DOCS) + 3
    reopened.close()
    (tmp_path / "broken.sqlite3").write_bytes(b"this is not a database" * 100)
    assert len(VectorCache(tmp_path / "broken.sqlite3")) == 0


def test_a_stream_of_documents_builds_the_same_index_as_a_mapping(embedder, tmp_path):
    """The server streams ``engine.all_documents()`` (×20 would not fit in memory as a list)."""
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    docs = [SimpleNamespace(**vars(d), questions=EVERYDAY.get(d.id, [])) for d in DOCS]
    streamed = iter(docs)
    from_stream = VectorIndex.build(document_texts(streamed), embedder, cache)
    assert next(streamed, None) is None  # read once, to the end
    from_mapping = VectorIndex.build(texts_by_document(DOCS, EVERYDAY), None, cache)
    assert from_stream.doc_ids == from_mapping.doc_ids
    assert np.array_equal(from_stream.matrix_t, from_mapping.matrix_t)
    assert np.array_equal(from_stream.extra_owner, from_mapping.extra_owner)
    cache.close()


def test_ingest_fills_the_cache_and_loads_the_model_only_for_new_text(embedder, tmp_path):
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    texts = texts_by_document(DOCS, EVERYDAY)
    assert fill_cache(texts, CountingEmbedder(embedder), cache) == len(DOCS) + 2
    assert fill_cache(texts, lambda: pytest.fail("the model was loaded for nothing"), cache) == 0
    changed = [*DOCS[:-1], doc("leave.3", "第三条 职工累计工作已满20年的，年休假15天。")]
    loaded = []
    assert fill_cache(texts_by_document(changed), lambda: loaded.append(1) or embedder, cache) == 1
    assert loaded == [1]
    cache.close()


def test_without_a_model_uncached_documents_are_left_out(embedder, tmp_path):
    cache = VectorCache(tmp_path / "v.sqlite3")
    VectorIndex.build(texts_by_document(DOCS[:2]), embedder, cache)
    index = VectorIndex.build(texts_by_document(DOCS), None, cache)
    assert index.doc_ids == ["lcl.47", "arb.53"]


def test_semantic_scores_find_the_answering_article(embedder):
    index = VectorIndex.build(texts_by_document(DOCS, EVERYDAY), embedder)
    retriever = SemanticRetriever(embedder, index)
    top = retriever.semantic_scores("去仲裁委告老板要花钱吗", 4)
    assert top[0][0] == "arb.53" and len(top) == 4
    assert all(isinstance(d, str) and -1.0 <= s <= 1.0 for d, s in top)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    assert retriever.semantic_scores("上班路上被车撞了算工伤吗", 1)[0][0] == "inj.14"
    assert retriever.semantic_scores("   ", 5) == []
    assert retriever.semantic_scores("😀😀😀", 2)  # noise still answers (low cosines), never raises
    # the query cache returns the same vector
    assert retriever.embed_query("被辞退有补偿吗") is retriever.embed_query("被辞退有补偿吗")


def test_an_everyday_question_lifts_its_article_part_of_the_way(embedder):
    texts = texts_by_document(DOCS, EVERYDAY)
    vec = embedder.embed_queries(["干了三年被开除，补偿怎么算"])[0]
    lifted = VectorIndex.build(texts, embedder, question_weight=0)  # questions unweighed (test_distinct.py)
    own_only = VectorIndex.build(texts_by_document(DOCS), embedder)
    plain_max = VectorIndex(
        lifted.doc_ids, lifted.matrix_t, lifted.scales, lifted.extra_owner, extra_weight=1.0, question_weight=0
    )
    own = dict(own_only.search(vec, 4))["lcl.47"]
    part = dict(lifted.search(vec, 4))["lcl.47"]
    full = dict(plain_max.search(vec, 4))["lcl.47"]
    assert full == pytest.approx(1.0, abs=0.01)  # the question itself is one of its texts
    assert part == pytest.approx(own + EXTRA_WEIGHT * (full - own), abs=0.01)
    # documents without extra texts score the same in both
    assert dict(lifted.search(vec, 4))["leave.3"] == pytest.approx(dict(own_only.search(vec, 4))["leave.3"])


def test_int8_scores_match_the_float_reference(embedder):
    texts = [document_text(d) for d in DOCS] + [q for qs in EVERYDAY.values() for q in qs]
    vectors = embedder.embed_documents(texts)
    q, scales = quantise_rows(vectors)
    index = VectorIndex([f"d{i}" for i in range(len(texts))], q.T, scales)
    exact = VectorIndex(index.doc_ids, q.T, scales, use_onnx=False)
    query = embedder.embed_queries(["被辞退有补偿吗"])[0]
    assert np.abs(index.row_scores(query) - vectors @ query).max() < 0.01
    assert np.abs(exact.row_scores(query) - vectors @ query).max() < 0.005
    assert [d for d, _ in index.search(query, 3)] == [d for d, _ in exact.search(query, 3)]
    assert len(index.search(query, 100)) == len(texts)
    assert VectorIndex.from_vectors({}, {}).search(query, 5) == []


def test_the_hand_encoded_matmul_model_is_exact_without_saturation():
    scorer = _int8_scorer()
    assert scorer is not None, "onnxruntime could not load " + repr(_matmul_integer_model()[:20])
    rng = np.random.default_rng(7)
    for rows in (
        np.abs(rng.standard_normal((300, DIM))),  # all positive: the worst case for 16-bit pair sums
        np.sign(rng.standard_normal((300, DIM))),
        rng.standard_normal((300, DIM)),
    ):
        q, _ = quantise_rows(l2_normalise(rows))
        query = np.abs(rng.integers(-63, 64, DIM)).astype(np.int32) if rows.min() >= 0 else rng.integers(-63, 64, DIM)
        a = (query + 64).astype(np.uint8)[None, :]
        y = scorer.run(None, {"A": a, "B": np.ascontiguousarray(q.T)})[0][0]
        expected = q.astype(np.int64) @ (query + 64)
        assert np.array_equal(y, expected)
        # the index's own sessions hold the matrix as a constant (packed once by onnxruntime):
        # the same integers through the packed kernel
        constant = int8_matrix_scorer(q.T)
        assert constant is not None
        assert np.array_equal(constant.run(None, {"A": a})[0][0], expected)
        assert np.array_equal(constant.run(None, {"A": np.repeat(a, 3, axis=0)})[0][2], expected)
