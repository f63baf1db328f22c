"""The duplicate question on a phone (headless Chromium): a citizen writes about a street light
others already reported, is asked "是否与以下问题相同?", and either choice still ends with their
own tracking number and lookup code; "same as this one" makes routing merge the report."""

import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.e2e.conftest import Citizen, after_click, fits_the_phone, get, wait_case

FIRST = "庆阳路188号院3号楼前面的路灯坏了一个多月了，晚上黑乎乎的，老人出门不敢走。电话13800001234"
MINE = "188号院3号楼门口的路灯不亮，晚上回家要摸黑"


def test_a_citizen_is_asked_whether_it_is_the_same_problem(stack, phone):
    # someone reported it before (with a phone number in the text and as contact)
    first = Citizen(stack).post(
        "/q/station/gwm",
        **{
            "submission_id": str(uuid.uuid4()),
            "station": "gwm",
            "category": "greening",
            "description": FIRST,
            "name": "李女士",
            "phone": "13800001234",
            "consent": "1",
        },
    )
    assert first.status_code == 200 and 'id="tracking-number"' in first.text
    number = first.text.split('id="tracking-number">')[1].split("<")[0]
    wait_case(stack, number)

    def write_and_submit():
        phone.get(stack.url("intake", "/q/station/gwm"))
        Select(phone.find_element(By.ID, "category")).select_by_value("greening")
        phone.find_element(By.ID, "description").send_keys(MINE)
        phone.find_element(By.ID, "submit").click()
        return after_click(phone, "suggestions")

    box = write_and_submit()
    assert "是否与以下问题相同" in box.text
    offer = box.find_element(By.CSS_SELECTOR, ".suggestion")
    assert offer.get_attribute("data-number") == number
    assert "路灯坏了一个多月" in offer.text and "广武门街道委员工作站" in offer.text
    assert "13800001234" not in phone.page_source and "李女士" not in phone.page_source
    assert phone.find_element(By.ID, "description").get_attribute("value") == MINE  # kept
    assert fits_the_phone(phone)

    # "Same as this one": the citizen still gets a number and code of their own.
    phone.find_element(By.ID, "same-1").click()
    mine = after_click(phone, "tracking-number").text
    assert mine.startswith("LX") and mine != number
    assert len(phone.find_element(By.ID, "lookup-code").text) == 6
    assert phone.find_element(By.ID, "same-noted").is_displayed()
    merged = wait_case(stack, mine, status="merged")
    assert merged["merged_into"] == number
    phone.find_element(By.ID, "status-link").click()
    note = after_click(phone, "merged-note").text
    assert "合并办理" in note and "共 2 人反映" in note
    assert fits_the_phone(phone)

    # "No, a new problem": a case of its own, nothing merged, nothing lost.
    write_and_submit()
    phone.find_element(By.ID, "new-problem").click()
    other = after_click(phone, "tracking-number").text
    assert other not in (number, mine)
    assert not phone.find_elements(By.ID, "same-noted")
    case = wait_case(stack, other)
    assert case["merged_into"] is None
    assert get(stack, "routing", f"/cases/{number}")[1]["reporters"] == 2
