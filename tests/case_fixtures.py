"""Shared data for the lawyers' case tests: a complete case and a tiny law index."""

from __future__ import annotations

from ingest.model import Document

CASE = {
    "title": "餐饮公司拖欠工资后劳动者解除劳动合同案",
    "case_no": "（2022）京01民终1234号",
    "court": "北京市第一中级人民法院",
    "judgment_date": "2022-06-15",
    "region": "北京",
    "keywords": "拖欠工资、经济补偿、解除劳动合同",
    "gist": "用人单位未及时足额支付劳动报酬的，劳动者可以解除劳动合同并要求支付经济补偿。",
    "facts": "张某在某餐饮公司工作三年，公司连续四个月拖欠工资，张某书面通知解除劳动合同。",
    "issues": "劳动者以拖欠工资为由解除劳动合同，能否获得经济补偿。",
    "result": "公司支付拖欠的工资及三个月工资的经济补偿。",
    "reasoning": "依照《劳动合同法》第三十八条、第四十六条的规定，公司应当支付经济补偿。",
    "related_laws": "《中华人民共和国劳动合同法》第四十七条\n《劳动合同法》第九百九十九条\n《某某省欠薪条例》第五条",
    "annotation": "**要点**：保存好工资条和考勤记录。[查看第四十七条](/doc/labor-contract-law.47)",
    "source": "https://example.org/cases/1",
}

LAW_ID = "labor-contract-law"
LAW_TITLE = "中华人民共和国劳动合同法"
ARTICLES = {
    38: "用人单位未及时足额支付劳动报酬的，劳动者可以解除劳动合同。",
    46: "劳动者依照本法第三十八条规定解除劳动合同的，用人单位应当向劳动者支付经济补偿。",
    47: "经济补偿按劳动者在本单位工作的年限，每满一年支付一个月工资的标准向劳动者支付。",
}


def law_documents() -> list[Document]:
    """The whole law and three of its articles, untokenised."""
    docs = [
        Document(
            id=LAW_ID,
            kind="law",
            doc_type="law",
            title=LAW_TITLE,
            text="\n".join(ARTICLES.values()),
            source_id=LAW_ID,
            source_title=LAW_TITLE,
            short_title="劳动合同法",
        )
    ]
    for n, text in ARTICLES.items():
        docs.append(
            Document(
                id=f"{LAW_ID}.{n}",
                kind="article",
                doc_type="law",
                title=f"劳动合同法 第{n}条",
                text=text,
                source_id=LAW_ID,
                source_title=LAW_TITLE,
                short_title="劳动合同法",
                article=n,
                article_label=f"第{n}条",
            )
        )
    return docs


# ---- web helpers ----------------------------------------------------------------

PASSWORD = "correct horse battery"


def make_app(settings, engine_docs: bool = True):
    """The real app with the account and lawyer routers, and the tiny law index loaded."""
    from search_api.app import create_app
    from search_api.routes import auth as auth_routes
    from search_api.routes import lawyers

    app = create_app(settings)
    paths = {getattr(r, "path", None) for r in app.router.routes}
    if "/login" not in paths:  # until create_app wires them itself
        app.include_router(auth_routes.router)
        app.include_router(lawyers.router)
        app.include_router(lawyers.api_router)
    if engine_docs:
        service = app.state.service
        from search_api.cases.workflow import preparer

        prepare = preparer(service.tok)
        app.state.engine.index_documents([prepare(d) for d in law_documents()])
        app.state.engine.refresh()
    return app


def csrf_from(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD, **extra):
    page = client.get("/login")
    data = {"csrf_token": csrf_from(page.text), "username": username, "password": password, **extra}
    return client.post("/login", data=data, follow_redirects=False)
