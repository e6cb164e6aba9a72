"""The documents the calculators cite, by id, and how to name them on a page.

Ids follow the index: ``<law file stem>.<article number>`` for an article, the stem alone for a
document without numbered articles (the 21.75-day notice). tests/calc/test_articles.py checks
every id against the corpus and every short title against the law's own title.
"""

from __future__ import annotations

from ingest.numerals import int_to_cn

SHORT_TITLES = {
    "labor-law": "劳动法",
    "labor-contract-law": "劳动合同法",
    "labor-contract-law-implementing-regulations": "劳动合同法实施条例",
    "labor-dispute-mediation-arbitration-law": "劳动争议调解仲裁法",
    "labor-security-supervision-regulations": "劳动保障监察条例",
    "paid-annual-leave-regulations": "职工带薪年休假条例",
    "enterprise-paid-annual-leave-implementing-measures": "企业职工带薪年休假实施办法",
    "wage-payment-interim-provisions": "工资支付暂行规定",
    "work-injury-insurance-regulations": "工伤保险条例",
    "work-injury-insurance-administrative-cases-provisions": "最高人民法院关于审理工伤保险行政案件若干问题的规定",
    "monthly-working-days-and-wage-conversion-notice": "关于职工全年月平均工作时间和工资折算问题的通知",
}


def label(doc_id: str) -> str:
    """labor-contract-law.47 → 《劳动合同法》第四十七条; a whole document → 《its title》."""
    stem, _, number = doc_id.partition(".")
    title = f"《{SHORT_TITLES.get(stem, stem)}》"
    return f"{title}第{int_to_cn(int(number))}条" if number else title
