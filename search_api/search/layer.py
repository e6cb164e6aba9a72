"""The semantic layer of a running service: built in the background, optional, and honest about it.

At start-up the service asks for it (``start``): the model is loaded from ``Settings.model_dir``
and every indexed document's texts (its own text and everyday questions) are looked up in the
vector cache (``Settings.vectors_path``, filled by ``labourkb ingest``); texts the cache lacks
are embedded then. Until it is ready, or when the model file is missing or corrupt, searches are
answered lexically and ``status`` (shown by ``/healthz`` and the start-up log) says why.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from search_api.engines.base import SearchEngine
from search_api.search.model import ModelUnavailable
from search_api.settings import Settings

log = logging.getLogger("labourkb")


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
            from search_api.search.semantic import SemanticRetriever, texts_by_document

            docs = list(self.engine.all_documents())
            texts = texts_by_document(docs, {d.id: d.questions for d in docs if d.questions})
            retriever, timing = SemanticRetriever.build(
                self.settings.model_dir, texts, self.settings.vectors_path, threads=1
            )
            self.retriever = retriever
            self.status = "ready"
            log.info(
                "semantic retriever ready: %d documents, model %.1f s, index %.1f s",
                len(texts),
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

    def health(self) -> dict[str, object]:
        return {"semantic": self.status}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
