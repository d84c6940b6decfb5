"""Run history (DESIGN 7): every apply and check recorded; ``provision history`` and the HTML report read it.

``store.Store`` is the one interface results are written through (``recorder.StoreSink`` adapts it
to the rollout's ``ResultSink`` hand-off), so a later executor (Celery workers, issue 17) records
the same rows and can keep its leases beside them. Nothing is imported here, so the commands that
never open the store start without SQLAlchemy.
"""

__all__: list[str] = []
