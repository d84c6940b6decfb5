"""engine/wire.py: a host's result survives the trip through JSON (worker -> store -> controller) unchanged."""

from __future__ import annotations

import json

from provisioner.engine.wire import event_from_json, event_to_json, result_from_json, result_to_json

from .conftest import FakeTime, MakeBook
from .test_host import fresh_host, runner


def test_a_converged_hosts_result_and_events_round_trip_through_json(make_book: MakeBook, fake_time: FakeTime) -> None:
    run, events = runner(make_book, fresh_host(), fake_time)
    result = run.run()
    assert result.status == "changed"
    assert any(r.data is not None for r in result.resources)  # the typed record data crosses too

    assert result_from_json(json.loads(json.dumps(result_to_json(result)))) == result
    assert [event_from_json(json.loads(json.dumps(event_to_json(e)))) for e in events] == events
