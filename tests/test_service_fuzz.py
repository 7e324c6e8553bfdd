"""A property-based fuzz of the API from its own OpenAPI document (schemathesis): whatever a
client sends, the service answers without a 5xx and with what the document promises.

Each documented operation gets its own test; hypothesis drives schemathesis's strategies
directly (the schemathesis pytest plugin does not run under pytest 9)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from service import create_app, stop_app
from service.openapi import document

pytestmark = pytest.mark.slow
# schemathesis leaves out the document's own path; the contract test covers it
OPERATIONS = [f"{method.upper()} {path}" for path, item in document()["paths"].items() for method in item
              if path != "/v1/openapi.json"]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    # API keys on (schemathesis also checks that a request without one is refused); no runner,
    # so the jobs it submits stay queued instead of occupying the machine
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.sqlite3'}",
                      "RUNNER": False, "SEED_EXAMPLE": False})
    _, key = app.extensions["itu.store"].create_key("fuzz")
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    yield schema, {"Authorization": f"Bearer {key}"}
    stop_app(app)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_5xx_and_every_response_matches_the_document(api_schema, label):
    schema, headers = api_schema
    operations = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}
    operation = operations[label]

    @given(case=operation.as_strategy())
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case):
        # every check except "a schema-valid request is accepted": a syntactically fine CSV
        # can still hold an impossible trip, and saying so (422, with where) is the point
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    fuzz()
