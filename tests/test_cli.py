"""The CLI mirrors the API: ingest with a report, search --json, show --json."""

import json

from click.testing import CliRunner

from search_api.cli import cli
from search_api.settings import get_settings
from tests.conftest import CORPUS


def test_ingest_reports_kinds_and_skips_bad_files(env):
    bad = env / "bad"
    bad.mkdir()
    (bad / "empty.md").write_bytes(b"")
    (bad / "binary.html").write_bytes(b"\x00\x01\x02\xff" * 100)
    (bad / "broken.md").write_text("---\ntitle: [unclosed\n---\n正文", encoding="utf-8")
    (bad / "ok.txt").write_text("工会维权服务上线\n\n职工可以通过网上工会申请法律援助。\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(CORPUS / "laws" / "labor-contract-law.md"), str(bad), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["by_kind"] == {"law": 1, "article": 98, "news": 1}
    skipped = {s["path"].rsplit("/", 1)[-1] for s in report["skipped"]}
    assert skipped == {"empty.md", "binary.html", "broken.md"}
    assert all(s["reason"] for s in report["skipped"])


def test_ingest_human_summary(env):
    result = CliRunner().invoke(cli, ["ingest", str(CORPUS / "cases")])
    assert result.exit_code == 0, result.output
    assert "case" in result.output and "28 documents" in result.output


def test_search_json_matches_api_shape_and_show(env):
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(CORPUS / "laws" / "labor-contract-law.md")]).exit_code == 0
    out = runner.invoke(cli, ["search", "劳动合同法第47条", "--json", "--size", "3"])
    data = json.loads(out.output)
    assert data["total"] > 0 and len(data["hits"]) == 3
    assert data["hits"][0]["id"] == "labor-contract-law.47" and data["hits"][0]["article"] == 47
    shown = json.loads(runner.invoke(cli, ["show", "labor-contract-law.47", "--json"]).output)
    assert shown["article_label"] == "第四十七条" and shown["text"].startswith("第四十七条")


def test_errors_are_clear_not_tracebacks(env):
    runner = CliRunner()
    r = runner.invoke(cli, ["show", "nope"])
    assert r.exit_code == 1 and "no document" in r.output
    r = runner.invoke(cli, ["ingest", str(env / "missing-dir")])
    assert r.exit_code == 1 and "找不到要导入的文件或目录" in r.output and "missing-dir" in r.output
    r = runner.invoke(cli, ["search", "  "])
    assert r.exit_code == 1


def test_ingest_and_rebuild_need_a_corpus(env, monkeypatch):
    # an installed labourkb has no corpus of its own: without a path or LABOURKB_CORPUS_DIR it says so
    monkeypatch.delenv("LABOURKB_CORPUS_DIR", raising=False)
    runner = CliRunner()
    for args in (["ingest"], ["rebuild"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 1, (args, r.output)
        assert "LABOURKB_CORPUS_DIR" in r.output and "没有指定要导入的语料" in r.output, r.output
    monkeypatch.setenv("LABOURKB_CORPUS_DIR", str(env / "gone"))
    get_settings.cache_clear()
    for args in (["ingest"], ["rebuild"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 1 and "找不到语料目录" in r.output and "gone" in r.output, r.output


def test_admin_commands(env):
    runner = CliRunner()
    r = runner.invoke(
        cli, ["user", "create", "wang", "--role", "lawyer"], env={"LABOURKB_NEW_PASSWORD": "a long passphrase 1"}
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        cli, ["user", "create", "wang", "--role", "lawyer"], env={"LABOURKB_NEW_PASSWORD": "a long passphrase 1"}
    )
    assert r.exit_code == 1  # a clear error for a duplicate, not a traceback
    token = runner.invoke(cli, ["token", "create", "monitor", "--scope", "logs:read"]).output.strip()
    from search_api.accounts.tokens import check_token

    assert check_token(get_settings(), token, "logs:read")
    assert json.loads(runner.invoke(cli, ["purge", "--days", "30"]).output) is not None
    r = runner.invoke(cli, ["backup", str(env / "backup.sqlite3")])
    assert r.exit_code == 0 and (env / "backup.sqlite3").stat().st_size > 0
