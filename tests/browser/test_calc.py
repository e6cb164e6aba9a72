"""A calculator on a 360-px phone: fill in the form without JavaScript, submit, read the result."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta

from search_api.calc import DISCLAIMER

# Every element's right edge, so a single overflowing box is named rather than just detected.
WIDER_THAN_SCREEN_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 0.5) wide.push(`${el.tagName}.${el.className} ${Math.round(box.right)}px`);
  }
  return {width, scroll: document.documentElement.scrollWidth, wide};
}"""


def test_severance_form_on_a_phone(open_page):
    w = open_page("phone", javascript=False)
    page = w.page
    w.go("/calc")
    page.get_by_role("link", name="经济补偿").first.click()
    page.wait_for_url("**/calc/severance")
    layout = page.evaluate(WIDER_THAN_SCREEN_JS)
    assert layout["width"] == 360 and layout["scroll"] <= 360 and not layout["wide"], layout
    w.shot("calc-form-phone")

    page.get_by_label("入职日期（用工之日）").fill("2008-01-01")
    page.get_by_label("解除或终止日期").fill("2024-06-30")
    page.get_by_label("月工资（元）").fill("40000")
    page.get_by_label("当地上年度职工月平均工资（元）").fill("10000")
    page.get_by_role("button", name="计算").click()
    page.wait_for_url("**/calc/severance?*")

    result = page.locator("section.calc-result")
    assert "经济补偿：360,000.00 元" in result.locator("p.answer").inner_text()
    steps = result.locator("ol.calc-steps").inner_text()
    assert "16年6个月" in steps and "30,000.00 元" in steps and "17 个月 → 12 个月" in steps
    assert result.get_by_role("link", name="《劳动合同法》第四十七条").is_visible()
    assert result.locator("p.disclaimer").inner_text() == DISCLAIMER
    layout = page.evaluate(WIDER_THAN_SCREEN_JS)
    assert layout["scroll"] <= 360 and not layout["wide"], layout
    w.shot("calc-result-phone")

    result.get_by_role("link", name="《劳动合同法》第四十七条").click()
    page.wait_for_url("**/doc/labor-contract-law.47")
    assert "第四十七条" in page.locator("main h1").inner_text()


def test_deadline_helper_on_a_phone(open_page):
    w = open_page("phone", javascript=False)
    page = w.page
    w.go("/calc/deadline")
    page.get_by_label("要办的事").select_option("arbitration")
    dismissed = dt.date.today() - dt.timedelta(days=10)
    page.get_by_label("起算日期").fill(dismissed.isoformat())
    page.get_by_role("button", name="计算").click()
    page.wait_for_url("**/calc/deadline?*")
    last = dismissed + relativedelta(years=1)
    assert f"请最迟在 {last.isoformat()}（含当天）申请劳动仲裁" in page.locator("p.answer").inner_text()
    notes = page.locator("ul.calc-notes").inner_text()
    assert "中断" in notes and "中止" in notes
    layout = page.evaluate(WIDER_THAN_SCREEN_JS)
    assert layout["scroll"] <= 360 and not layout["wide"], layout
