"""What a worker types: checked field by field, in Chinese, nothing typed lost."""

from __future__ import annotations

import pytest

from search_api.errors import Invalid
from search_api.help.fields import mask_phone, normalise_phone, validate_request
from tests.fixtures.help import HELP_REQUEST

DISTRICTS = ["崂山区", "市南区"]


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("８６１３９１２３４５６７８", "13912345678"),  # full-width digits, with 86
        ("0532-88886666", "053288886666"),
        ("(0532) 8888 6666 转 123", "053288886666123"),
        ("010-12345678", "01012345678"),
        ("12345678", None),  # no area code
        ("12912345678", None),  # no such mobile prefix
        ("1391234567", None),
        ("abc", None),
        ("", None),
    ],
)
def test_phone_numbers(typed, digits):
    assert normalise_phone(typed) == digits


def test_masking_keeps_only_the_ends():
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("053288886666") == "053*****6666"


def test_a_complete_request_is_cleaned():
    inp = validate_request(HELP_REQUEST, DISTRICTS)
    assert inp.phone == "13912345678" and inp.district == "崂山区" and inp.publish_consent
    assert set(inp.sealed()) == {"name", "phone", "description", "wants", "employer", "question"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"description": "故" * 10_000}, "description", "最多 2000 个字（现在 10000 个）"),
        ({"description": "   没发工资  "}, "description", "至少 10 个字"),
        ({"phone": "12345"}, "phone", "正确的手机号"),
        ({"district": "火星区"}, "district", "没有这个区"),
        ({"district": ""}, "district", "请选择"),
        ({"topic": "tax"}, "topic", "类别"),
        ({"is_dispute": None}, "is_dispute", "纠纷"),
        ({"name": ""}, "name", "怎么称呼"),
        ({"consent": False}, "consent", "同意"),
        ({"consent": "0"}, "consent", "同意"),
        ({"name": ["王"]}, "name", "须为文字"),
        ({"call_time": "midnight"}, "call_time", "方便接电话"),
    ],
)
def test_each_bad_field_is_named(change, field, words):
    with pytest.raises(Invalid) as refused:
        validate_request({**HELP_REQUEST, **change}, DISTRICTS)
    assert words in refused.value.errors[field]
    assert set(refused.value.errors) == {field}


def test_publication_is_off_unless_asked():
    assert not validate_request({**HELP_REQUEST, "publish_consent": None}, DISTRICTS).publish_consent
    assert not validate_request({**HELP_REQUEST, "publish_consent": "false"}, DISTRICTS).publish_consent
