"""`make run`'s broker check: one line that says what is wrong and what to do."""

import socket

import pytest

from tools.stack import BrokerUnavailable, check_broker


def test_a_broker_that_does_not_answer_is_named_with_the_remedy():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(BrokerUnavailable) as err:
        check_broker(f"amqp://guest:secret@127.0.0.1:{port}/")
    message = str(err.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message and "rabbitmq-server" in message
    assert "secret" not in message  # the password never reaches the terminal


def test_a_broker_that_answers_passes():
    check_broker("amqp://guest:guest@127.0.0.1:5672/")
