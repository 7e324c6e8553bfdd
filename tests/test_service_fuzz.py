"""A property-based fuzz of the API from its own OpenAPI document (schemathesis): whatever a
client sends, the service answers without a 5xx and with what the document promises.

Each documented operation gets its own test; hypothesis drives schemathesis's strategies
directly (the schemathesis pytest plugin does not run under pytest 9)."""
from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from service import create_app, stop_app
from service.openapi import document

pytestmark = pytest.mark.slow
#: Examples per operation: 100 in the test suite; the benchmark run (make bench-fuzz) asks for 1,000.
EXAMPLES = int(os.environ.get("ITU_FUZZ_EXAMPLES", "100"))
BODY_LIMIT = 100_000  # the fuzz app's largest body, so that "too large" is cheap to reach
# schemathesis leaves out the document's own path; the contract test covers it
OPERATIONS = [f"{method.upper()} {path}" for path, item in document()["paths"].items() for method in item
              if path != "/v1/openapi.json"]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    # API keys on (schemathesis also checks that a request without one is refused); no runner,
    # so the jobs it submits stay queued instead of occupying the machine
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.sqlite3'}",
                      "RUNNER": False, "SEED_EXAMPLE": False, "MAX_CONTENT_LENGTH": BODY_LIMIT})
    _, key = app.extensions["itu.store"].create_key("fuzz")
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    yield schema, {"Authorization": f"Bearer {key}"}, app
    stop_app(app)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_5xx_and_every_response_matches_the_document(api_schema, label):
    schema, headers, _ = api_schema
    operations = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}
    operation = operations[label]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case):
        # every check except "a schema-valid request is accepted": a syntactically fine CSV
        # can still hold an impossible trip, and saying so (422, with where) is the point
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    fuzz()


def _hostile_bodies():
    """What a schema never generates: bytes that are not UTF-8 inside JSON strings, nesting far past
    any parser's recursion limit (closed or not), unpaired surrogates, bodies over the size limit,
    and plain garbage."""
    text = st.text(max_size=20).map(json.dumps)
    not_utf8 = st.tuples(text, st.binary(min_size=1, max_size=8)).map(
        lambda p: b'{"name": "' + p[1].replace(b'"', b"") + b'\xff", "x": ' + p[0].encode() + b"}")
    deep = st.tuples(st.integers(1_000, 200_000), st.sampled_from(["[", "{\"a\":", "{"]), st.booleans()).map(
        lambda p: (p[1] * p[0] + ("1" + "]" * p[0] if p[1] == "[" and p[2] else "")).encode())
    surrogate = st.sampled_from(["\\ud800", "\\udfff", "\\ud83d"]).map(
        lambda s: ('{"trip_set_id": "' + s + '", "fleet_id": "' + s + '"}').encode())
    too_large = st.integers(BODY_LIMIT + 1, 3 * BODY_LIMIT).map(lambda n: b"[" + b"1," * (n // 2) + b"1]")
    return st.one_of(not_utf8, deep, surrogate, too_large, st.binary(max_size=2000))


@pytest.mark.parametrize("path", ["/v1/trip-sets", "/v1/fleets", "/v1/solve-jobs", "/v1/comparison-jobs"])
def test_hostile_bodies_get_a_4xx_naming_the_request_never_a_5xx(api_schema, path):
    _, headers, app = api_schema
    client = app.test_client()

    @given(body=_hostile_bodies(), media_type=st.sampled_from(
        ["application/json", "text/csv", "application/geo+json", "application/geopackage+sqlite3"]))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(body, media_type):
        response = client.post(path, data=body, headers={**headers, "Content-Type": media_type})
        assert 400 <= response.status_code < 500, (response.status_code, response.get_data()[:300])
        error = response.get_json()
        assert error["code"] and error["message"]
        assert "itu-upload-" not in json.dumps(error)  # a field of the request, never a server path

    fuzz()
