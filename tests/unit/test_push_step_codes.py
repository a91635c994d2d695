"""The requestid step codes are frozen: requestids already sent to QuickBooks must come out byte
for byte the same after an upgrade, or a job in flight during it would write twice."""

from __future__ import annotations

import pytest

from appliance.storage.queue import request_base
from appliance.sync.push import steps

#: Every code as it was first sent. Never edit a value here: add new codes instead.
FROZEN = {
    "LINKED": "lk",
    "EXACT": "ex",
    "REVIVE": "rv",
    "RENAME": "ren",
    "MATCH": "mt",
    "MATCH_AGAIN": "mt2",
    "MATCH_SUFFIXED": "sf",
    "CREATE": "new",
    "CREATE_SUFFIXED": "new2",
    "CREATE_NUMBERED": "nm",
    "DECIDED_LINK": "dlk",
    "DECIDED_CREATE": "dnew",
    "VOID": "vd",
    "DELETE": "del",
    "PAYMENT_METHOD": "pm",
    "PAYMENT_VOID": "pv",
    "PAYMENT_VOID_AGAIN": "pv2",
    "PAYMENT_DELETE": "pd",
    "PAYMENT_DELETE_AGAIN": "pd2",
    "ITEM_NUMBERED": "inn",
}


def test_every_step_code_keeps_its_value() -> None:
    codes = {name: value for name, value in vars(steps).items() if name.isupper()}
    assert codes == FROZEN


@pytest.mark.parametrize(
    ("step", "sent"),
    [
        (steps.sparse(steps.LINKED, 1), "lk1"),
        (steps.sparse(steps.LINKED, 2), "lk2"),
        (steps.clear(steps.LINKED, 1), "lkc1"),
        (steps.clear(steps.LINKED, 2), "lkc2"),
        (steps.sparse(steps.EXACT, 1), "ex1"),
        (steps.sparse(steps.EXACT, 2), "ex2"),
        (steps.clear(steps.EXACT, 1), "exc1"),
        (steps.sparse(steps.REVIVE, 1), "rv1"),
        (steps.sparse(steps.REVIVE, 2), "rv2"),
        (steps.clear(steps.REVIVE, 1), "rvc1"),
        (steps.RENAME, "ren"),
        (steps.sparse(steps.MATCH, 1), "mt1"),
        (steps.sparse(steps.MATCH, 2), "mt2"),
        (steps.clear(steps.MATCH, 1), "mtc1"),
        (steps.sparse(steps.MATCH_AGAIN, 1), "mt21"),
        (steps.clear(steps.MATCH_AGAIN, 2), "mt2c2"),
        (steps.sparse(steps.MATCH_SUFFIXED, 1), "sf1"),
        (steps.clear(steps.MATCH_SUFFIXED, 1), "sfc1"),
        (steps.CREATE, "new"),
        (steps.CREATE_SUFFIXED, "new2"),
        (steps.numbered(2), "nm2"),
        (steps.numbered(3), "nm3"),
        (steps.numbered(12), "nm12"),
        (steps.sparse(steps.DECIDED_LINK, 1), "dlk1"),
        (steps.sparse(steps.DECIDED_LINK, 2), "dlk2"),
        (steps.clear(steps.DECIDED_LINK, 1), "dlkc1"),
        (steps.DECIDED_CREATE, "dnew"),
        (steps.sparse(steps.VOID, 1), "vd1"),
        (steps.sparse(steps.VOID, 2), "vd2"),
        (steps.sparse(steps.DELETE, 1), "del1"),
        (steps.sparse(steps.DELETE, 2), "del2"),
        (steps.item_numbered(1), "inn1"),
        (steps.item_numbered(2), "inn2"),
        (steps.item_numbered(5), "inn5"),
    ],
)
def test_each_write_sends_the_requestid_it_always_sent(step: str, sent: str) -> None:
    assert step == sent
    assert steps.request_id("evt_pin_1", 0, step) == f"jr74329710cd88d952d76fe531g0-{sent}"


def test_the_base_comes_from_the_event_and_the_operator_retry_generation() -> None:
    assert request_base("evt_pin_1", 0) == "jr74329710cd88d952d76fe531g0"
    assert request_base("evt_pin_1", 3) == "jr74329710cd88d952d76fe531g3"
    assert steps.step_id("jr74329710cd88d952d76fe531g0", "x" * 20) == (
        "jr74329710cd88d952d76fe531g0-xxxxxxx"  # cut at 36 characters, as QBO's batch takes
    )
