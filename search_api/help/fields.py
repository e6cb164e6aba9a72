"""What a worker fills in when asking for help, how each field is checked, what to prepare.

``validate_request`` is the one check for the page form and the JSON API: it returns the
cleaned request or raises ``Invalid`` with a Chinese message per field, so the form comes
back with everything typed kept and the API answers 422 ``{"errors": {field: message}}``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from search_api.errors import Invalid

TOPICS = {
    "wages": "工资、加班费被拖欠或克扣",
    "dismissal": "被辞退、解除合同、经济补偿",
    "injury": "工伤、职业病",
    "insurance": "社会保险、公积金",
    "contract": "劳动合同（没签、续签、调岗等）",
    "other": "其他问题",
}
DISPUTE_CHOICES = {"yes": "是，是和用人单位之间的纠纷", "no": "不是", "unsure": "不确定"}
CALL_TIMES = {
    "any": "任何时间",
    "morning": "上午（9–12 点）",
    "afternoon": "下午（14–17 点）",
    "evening": "傍晚（17–19 点）",
}

# Field → (label, max characters); the story fields are long, the rest short.
LIMITS = {
    "district": ("所在区（市）", 20),
    "question": ("您搜索的问题", 200),
    "description": ("发生了什么", 2000),
    "wants": ("您希望得到什么帮助", 500),
    "employer": ("用人单位名称", 100),
    "name": ("您的称呼", 30),
    "phone": ("手机或固定电话", 30),
}
MIN_DESCRIPTION_CHARS = 10
# Personal data: sealed (encrypted) in the store, never logged, never indexed.
SEALED_FIELDS = ("name", "phone", "description", "wants", "employer", "question")

# What to bring to the union or to arbitration, by topic (shown on the worker's status page).
COMMON_MATERIALS = (
    "身份证",
    "劳动合同（没有书面合同也没关系，带上能证明在这里上班的材料）",
    "工作证、工牌、工作服或打卡记录等能证明劳动关系的东西",
    "和老板、主管的微信或短信聊天记录（截图，保留原手机）",
)
MATERIALS = {
    "wages": (
        "工资条或银行流水（发工资的记录）",
        "考勤记录、排班表、加班审批记录",
        "欠薪的欠条或老板承认欠薪的聊天记录",
    ),
    "dismissal": (
        "辞退通知、解除合同通知书或通知的聊天记录",
        "最近 12 个月的工资记录（算补偿用）",
        "离职证明（如已开具）",
    ),
    "injury": (
        "医院的诊断证明、病历和医疗费票据",
        "受伤经过的证人姓名和联系方式",
        "工伤认定申请材料或单位报工伤的回执（如有）",
        "受伤前 12 个月的工资记录",
    ),
    "insurance": ("社保缴费记录（可在社保 App 或窗口打印）", "工资条或银行流水"),
    "contract": ("劳动合同、调岗或变更通知", "工资条或银行流水"),
    "other": (),
}

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}(?:\d{1,6})?$")  # area code + number (+ extension), separators removed
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）转#]+")


@dataclass
class HelpInput:
    """A request as typed, cleaned and checked."""

    district: str
    topic: str
    is_dispute: str
    description: str
    wants: str
    employer: str
    name: str
    phone: str
    call_time: str
    question: str = ""
    publish_consent: bool = False

    def sealed(self) -> dict[str, str]:
        """The personal fields, to be encrypted together."""
        return {f: getattr(self, f) for f in SEALED_FIELDS}


def normalise_phone(text: str) -> str | None:
    """Digits of a mainland mobile (11 digits) or landline (area code + number), else None."""
    digits = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    return None


def mask_phone(phone: str) -> str:
    """138****5678: enough for a worker to recognise their number, not enough to call it."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else "\x00"
    return unicodedata.normalize("NFC", value).replace("\r\n", "\n").strip()


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "on", "true", "yes"))


def validate_request(data: dict[str, Any], districts: list[str]) -> HelpInput:
    """Check a submitted request (form fields or JSON); raises ``Invalid`` naming each bad field."""
    errors: dict[str, str] = {}
    values = {field: _text(data, field) for field in (*LIMITS, "topic", "is_dispute", "call_time")}
    for field, (label, limit) in LIMITS.items():
        if "\x00" in values[field]:
            errors[field] = f"{label}须为文字"
        elif len(values[field]) > limit:
            errors[field] = f"{label}最多 {limit} 个字（现在 {len(values[field])} 个），请精简后再提交"
    if values["district"] not in districts:
        errors["district"] = "请选择您所在的区（市）" if not values["district"] else "没有这个区（市），请从列表中选择"
    if values["topic"] not in TOPICS:
        errors["topic"] = "请选择问题的类别"
    if values["is_dispute"] not in DISPUTE_CHOICES:
        errors["is_dispute"] = "请选择这是不是和用人单位之间的纠纷"
    if "description" not in errors and len(values["description"]) < MIN_DESCRIPTION_CHARS:
        errors["description"] = f"请简单说说发生了什么（至少 {MIN_DESCRIPTION_CHARS} 个字）"
    if "name" not in errors and not values["name"]:
        errors["name"] = "请填写怎么称呼您（可以只写姓，如“王女士”）"
    phone = normalise_phone(values["phone"]) if "phone" not in errors else None
    if "phone" not in errors and phone is None:
        errors["phone"] = "请填写正确的手机号（11 位）或带区号的固定电话，工会将通过它给您回电"
    call_time = values["call_time"] or "any"
    if call_time not in CALL_TIMES:
        errors["call_time"] = "请选择方便接电话的时间"
    if not _flag(data.get("consent")):
        errors["consent"] = "请阅读并同意个人信息说明，否则工会无法联系您"
    if errors:
        raise Invalid("请检查标出的内容", errors)
    return HelpInput(
        district=values["district"],
        topic=values["topic"],
        is_dispute=values["is_dispute"],
        description=values["description"],
        wants=values["wants"],
        employer=values["employer"],
        name=values["name"],
        phone=phone or "",
        call_time=call_time,
        question=values["question"],
        publish_consent=_flag(data.get("publish_consent")),
    )


def validate_addition(text: Any) -> str:
    """Information a worker adds to their request later."""
    value = _text({"t": text}, "t")
    if "\x00" in value or not value:
        raise Invalid("请填写要补充的内容", {"addition": "请填写要补充的内容"})
    if len(value) > LIMITS["description"][1]:
        limit = LIMITS["description"][1]
        raise Invalid(f"补充内容最多 {limit} 个字", {"addition": f"最多 {limit} 个字（现在 {len(value)} 个）"})
    return value
