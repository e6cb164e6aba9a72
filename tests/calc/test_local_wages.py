"""The union's local average wages: the documented example loads; every mistake names the file and line."""

from __future__ import annotations

from decimal import Decimal

import pytest

from search_api.app import create_app
from search_api.calc import LocalWagesError, load_local_wages
from tests.conftest import REPO_ROOT, make_settings

EXAMPLE = REPO_ROOT / "docs" / "local-wages.example.yaml"


def test_the_documented_example_loads_and_says_it_is_an_example():
    wages = load_local_wages(EXAMPLE)
    assert list(wages) == ["示例区", "另一个示例区"]
    assert wages["示例区"].monthly_avg_wage == Decimal(10000) and wages["示例区"].year == 2024
    assert all("不是官方数据" in w.source for w in wages.values())
    assert "编的，不是任何官方公布的数据" in EXAMPLE.read_text(encoding="utf-8")


def test_no_file_means_no_figures(tmp_path):
    assert load_local_wages(None) == {}
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_local_wages(empty) == {}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("wages:\n  - district: 市南区\n    year: 2024\n", 2, "monthly_avg_wage"),
        ("wages:\n  - district: 市南区\n    year: 2024\n    monthly_avg_wage: -5\n", 4, "monthly_avg_wage"),
        ("wages:\n  - district: 市南区\n    year: 2024\n    monthly_avg_wage: 一万\n", 4, "monthly_avg_wage"),
        ("wages:\n  - district: 市南区\n    year: 24\n    monthly_avg_wage: 9000\n", 3, "year"),
        ("wages:\n  - district: 市南区\n    year: 2024\n    monthly_avg_wage: 9000\n    wage: 1\n", 5, "wage"),
        (
            "wages:\n  - district: 市南区\n    year: 2024\n    monthly_avg_wage: 9000\n"
            "  - district: 市南区\n    year: 2024\n    monthly_avg_wage: 9100\n",
            5,
            "两次",
        ),
        ("wages: [\n", 2, "YAML"),
        ("- district: 市南区\n", 1, "wages"),
    ],
)
def test_mistakes_name_the_file_and_the_line(tmp_path, text, line, words):
    path = tmp_path / "wages.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LocalWagesError) as e:
        load_local_wages(path)
    assert e.value.message.startswith(f"{path}:{line}: "), e.value.message
    assert words in e.value.message


def test_the_app_does_not_start_with_a_bad_file(tmp_path):
    path = tmp_path / "wages.yaml"
    path.write_text("wages:\n  - district: 市南区\n    year: 2024\n    monthly_avg_wage: 0\n", encoding="utf-8")
    with pytest.raises(LocalWagesError, match=r"wages.yaml:4: "):
        create_app(make_settings(tmp_path / "data", local_wages_file=path))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(LocalWagesError, match=r"nowhere\.yaml"):
        load_local_wages(tmp_path / "nowhere.yaml")
