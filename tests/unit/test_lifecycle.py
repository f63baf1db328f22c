"""Every action from every state: allowed exactly where the lifecycle says, refused clearly."""

import pytest

from services.routing.lifecycle import STATUS_NAMES, TRANSITIONS, CaseError, next_status

ALLOWED = {
    ("assign", "waiting"): "assigned",
    ("accept", "assigned"): "accepted",
    ("respond", "assigned"): "responded",
    ("respond", "accepted"): "responded",
    ("resolve", "responded"): "resolved",
    ("close_unresolved", "assigned"): "closed_unresolved",
    ("close_unresolved", "accepted"): "closed_unresolved",
    ("close_unresolved", "responded"): "closed_unresolved",
    ("transfer", "assigned"): "assigned",
    ("transfer", "accepted"): "assigned",
    ("transfer", "responded"): "assigned",
    ("reopen", "resolved"): "assigned",
    ("reopen", "closed_unresolved"): "assigned",
    ("rate", "resolved"): "resolved",
    ("merge", "waiting"): "merged",
    ("merge", "assigned"): "merged",
    ("merge", "accepted"): "merged",
    ("merge", "responded"): "merged",
}


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
@pytest.mark.parametrize("status", sorted(STATUS_NAMES))
def test_each_action_in_each_state(action, status):
    if (action, status) in ALLOWED:
        assert next_status(action, status) == ALLOWED[(action, status)]
    else:
        with pytest.raises(CaseError) as err:
            next_status(action, status)
        assert err.value.code == "illegal_transition"
        assert STATUS_NAMES[status] in err.value.message_zh and status in err.value.message


def test_an_unknown_action_is_refused():
    with pytest.raises(CaseError) as err:
        next_status("delete", "assigned")
    assert err.value.status == 400
