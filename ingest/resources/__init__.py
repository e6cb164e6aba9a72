"""The project's own data files, shipped inside the package (``pip wheel .`` includes them).

``lexicon/`` is the labour-law dictionary, thesaurus and word lists (``ingest.lexicon``);
``everyday/`` the everyday questions per article (``ingest.everyday``), found beside it.
"""

from pathlib import Path

LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"
EVERYDAY_DIR = Path(__file__).resolve().parent / "everyday"
