"""The API's description matches the API: schemathesis over /openapi.json, bounded examples.

Every operation is called with generated requests (no credentials, so protected operations
answer 401 — which must be documented); no response may be a 5xx or break the schema.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from search_api.app import create_app

EXAMPLES = 25


def test_every_operation_conforms(corpus_settings):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(corpus_settings))
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def run(case):
            case.call_and_validate()

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
