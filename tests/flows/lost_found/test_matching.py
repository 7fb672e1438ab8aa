"""Lost reports and found items that look alike are suggested to each other, with reasons."""

from __future__ import annotations

from app.engine import runtime
from app.lostfound import matching
from tests.flows.lost_found.conftest import report, task


def test_tokens_are_chinese_bigrams_and_latin_words():
    assert matching.tokens("黑色钱包") == {"黑色", "色钱", "钱包"}
    assert matching.tokens("Red iPhone 13，壳") == {"red", "iphone", "13", "壳"}
    assert matching.overlap(set(), {"a"}) == 0


def test_lost_and_found_items_are_suggested_to_each_other(estate):
    found = report(estate.guard, description="黑色皮质钱包，内有门禁卡和一张银行卡",
                   place="3号楼大堂", occurred_at="2026-11-22T08:30:00+08:00")
    report(estate.guard, category="keys", description="黑色钱包钥匙扣")  # other category
    report(estate.guard, description="红色帆布零钱包", place="游泳池",
           occurred_at="2026-11-22T07:00:00+08:00")  # weak: category, time, one word
    lost = report(estate.owner, kind="lost", description="丢失黑色钱包，有门禁卡",
                  place="3号楼电梯口", occurred_at="2026-11-21T20:00:00+08:00")
    runtime.complete_task(task(lost, "Review").id, {"review_decision": "approve"}, estate.cs)
    for_owner = matching.suggestions(lost)
    assert for_owner[0].item == found and len(for_owner) == 2  # the weak one ranks below
    assert for_owner[0].score > for_owner[1].score
    codes = [code for code, _detail in for_owner[0].reasons]
    assert codes == ["category", "days", "place", "words"]
    assert "钱包" in dict(for_owner[0].reasons)["words"]
    assert [m.item for m in matching.suggestions(found)] == [lost]
    assert all(m.item.kind == "found" for m in for_owner)


def test_outside_the_time_window_nothing_is_suggested(estate):
    found = report(estate.guard, occurred_at="2026-11-22T08:30:00+08:00")
    lost = report(estate.guard, kind="lost", occurred_at="2026-10-01T08:30:00+08:00")
    assert matching.score(lost, found) is None
    assert matching.suggestions(found) == []
