"""Every setting is documented, and the README names the ones a newcomer needs."""

import re
from pathlib import Path

from search_api.settings import Settings
from tests.conftest import REPO_ROOT


def test_every_setting_has_a_description():
    for model in (Settings,):
        missing = [name for name, f in model.model_fields.items() if not f.description]
        assert not missing, f"{model.__name__}: undocumented settings {missing}"


def test_readme_names_the_main_settings():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("data_dir", "engine", "corpus_dir", "es_url", "es_api_key", "es_ca_certs", "es_index_prefix"):
        assert f"LABOURKB_{name.upper()}" in readme, name


def test_the_deployment_guide_names_only_real_settings():
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    named = set(re.findall(r"LABOURKB_([A-Z_]+[A-Z])", guide))
    assert {"DATA_DIR", "CORPUS_DIR", "TRUSTED_PROXIES", "COOKIE_SECURE", "ENGINE", "ES_URL"} <= named
    unknown = {n for n in named if n.lower() not in Settings.model_fields}
    assert not unknown, unknown


def test_settings_read_from_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("LABOURKB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABOURKB_ENGINE", "elasticsearch")
    s = Settings()
    assert s.data_dir == tmp_path and s.engine == "elasticsearch"
    assert s.index_path == tmp_path / "index.sqlite3"
