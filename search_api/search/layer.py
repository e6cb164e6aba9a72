"""The semantic layer of a running service: built in the background, optional, and honest about it.

At start-up the service asks for it (``start``): the model is loaded from ``Settings.model_dir``
and every indexed document's texts (its own text and everyday questions) are looked up in the
vector cache (``Settings.vectors_path``, filled by ``labourkb ingest``); texts the cache lacks
are embedded then. Until it is ready, or when the model file is missing or corrupt, searches are
answered lexically and ``status`` (shown by ``/healthz`` and the start-up log) says why.

Where the vectors live depends on the engine: Elasticsearch holds them itself (``dense_vector``
+ kNN, ``search.engine_vectors``: documents lacking vectors for their current texts get them at
start-up); with the embedded engine the layer keeps an in-process index (``search.vectors``).
Documents indexed while the server runs (a published case) are given vectors by ``add``.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ingest.model import Document
from search_api.engines.base import SearchEngine
from search_api.search.model import ModelUnavailable
from search_api.settings import Settings

log = logging.getLogger("labourkb")


def fill_vectors(settings: Settings, engine: SearchEngine) -> str:
    """After an ingest: embed what the vector cache lacks (and, for an engine that holds vectors,
    write the documents whose vectors are stale), loading the model only if something is missing,
    so an unchanged corpus costs a read of the cache. Returns a status line for the CLI."""
    from search_api.search.engine_vectors import sync
    from search_api.search.semantic import Embedder, VectorCache, document_texts, fill_cache

    def load() -> Embedder:
        return Embedder.load(settings.model_dir, threads=1)  # bulk embedding runs its own workers

    cache = VectorCache(settings.vectors_path)
    try:
        texts = document_texts(engine.all_documents())
        if engine.stores_vectors:
            written = sync(engine, texts, load, cache)
            if written:
                engine.optimise()
            return f"ready: vectors of {written} documents written to the engine"
        return f"ready: {fill_cache(texts, load, cache)} texts embedded"
    except ModelUnavailable as exc:
        return f"unavailable: {exc}"
    finally:
        cache.close()


class SemanticLayer:
    def __init__(self, settings: Settings, engine: SearchEngine):
        self.settings = settings
        self.engine = engine
        self.retriever = None  # a search.semantic.SemanticRetriever once ready
        self.status = "off" if not settings.semantic else "not started"
        self.ready = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=max(2, settings.threads), thread_name_prefix="semantic")
        self._started = False
        self._lock = threading.Lock()
        self._adding = threading.Lock()  # one update of the vectors at a time
        self.additions = 0  # updates of the vectors since start-up (answers kept before are stale)

    def start(self, background: bool = True) -> None:
        """Build the retriever (once); in a daemon thread unless ``background`` is false."""
        with self._lock:
            if self._started or not self.settings.semantic:
                self.ready.set()
                return
            self._started = True
            self.status = "building"
        if background:
            threading.Thread(target=self._build, name="semantic-build", daemon=True).start()
        else:
            self._build()

    def _build(self) -> None:
        try:
            from search_api.search.semantic import SemanticRetriever, document_texts

            # streamed: ×20 is 73,000 documents, never all in memory at once
            texts = document_texts(self.engine.all_documents())
            if self.engine.stores_vectors:
                retriever, timing = self._in_engine(texts)
            else:
                retriever, timing = SemanticRetriever.build(
                    self.settings.model_dir, texts, self.settings.vectors_path, threads=1
                )
            self.retriever = retriever
            self.status = "ready"
            log.info(
                "semantic retriever ready: %s, model %.1f s, index %.1f s",
                "vectors in the engine" if self.engine.stores_vectors else f"{len(retriever.index)} documents",
                timing["load_s"],
                timing["index_s"],
            )
        except ModelUnavailable as exc:
            self.status = f"unavailable: {exc}"
            log.warning("semantic retriever unavailable, answering lexically: %s", exc)
        except Exception as exc:  # the layer is an addition: any failure leaves lexical search working
            self.status = f"unavailable: {type(exc).__name__}: {exc}"
            log.exception("semantic retriever failed to build, answering lexically")
        finally:
            self.ready.set()

    def _in_engine(self, texts):
        from search_api.search.engine_vectors import EngineIndex, sync
        from search_api.search.semantic import Embedder, SemanticRetriever, VectorCache

        t0 = time.perf_counter()
        embedder = Embedder.load(self.settings.model_dir, threads=1)
        t1 = time.perf_counter()
        cache = VectorCache(self.settings.vectors_path)
        try:
            written = sync(self.engine, texts, embedder, cache)
        finally:
            cache.close()
        if written:
            log.info("semantic retriever: vectors of %d documents written to the engine", written)
            self.engine.optimise()
        return SemanticRetriever(embedder, EngineIndex(self.engine)), {
            "load_s": t1 - t0,
            "index_s": time.perf_counter() - t1,
        }

    def add(self, docs: list[Document]) -> None:
        """Documents just indexed (a published case): found by meaning too, soon. In the background:
        the engine's vectors for them, or a fresh in-process index (built from the vector cache)."""
        if self.retriever is None or not docs:
            return
        self.pool.submit(self._add, list(docs))

    def _add(self, docs: list[Document]) -> None:
        from search_api.search.semantic import VectorCache, VectorIndex, document_texts

        retriever = self.retriever
        try:
            with self._adding:
                if self.engine.stores_vectors:
                    from search_api.search.engine_vectors import sync

                    cache = VectorCache(self.settings.vectors_path)
                    try:
                        known = {d.id: "" for d in docs}
                        sync(self.engine, document_texts(docs), retriever.embedder, cache, known=known)
                    finally:
                        cache.close()
                    self.additions += 1
                    return
                if not self.engine.get_many([d.id for d in docs], light=True):
                    return  # withdrawn again meanwhile
                cache = VectorCache(self.settings.vectors_path)
                try:
                    index = VectorIndex.build(document_texts(self.engine.all_documents()), retriever.embedder, cache)
                finally:
                    cache.close()
                retriever.index = index  # one assignment: searches see the old index or the new
                self.additions += 1
        except Exception:  # lexical search already finds them; the next start-up retries
            log.exception("could not give %d new documents their vectors", len(docs))

    def health(self) -> dict[str, object]:
        return {"semantic": self.status}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
