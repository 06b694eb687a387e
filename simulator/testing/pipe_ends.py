"""Fake pipe ends for driving a broker's ``InboxPump`` in-process: an inbox that hands out the
payloads it was given, and a results end that keeps every message sent, decoded."""

from __future__ import annotations

from simulator import messages as msg


class FakeInbox:
    def __init__(self, payloads):
        self.payloads = list(payloads)

    def poll(self, timeout=0.0):
        return bool(self.payloads)

    def recv_bytes(self):
        return self.payloads.pop(0)


class FakeResults:
    def __init__(self):
        self.sent = []

    def send_bytes(self, data):
        self.sent.append(msg.decode(data))
