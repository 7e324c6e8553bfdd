"""The OpenAPI 3 document of /v1: the contract with scheduling systems. A test checks that
every route of the application is in it and that every documented route exists, and a
property-based fuzz (schemathesis) checks that responses match it."""
from __future__ import annotations


from .config import Limits

API_VERSION = "1.0.0"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    words = {400: "Malformed request", 401: "No API key, or an unknown or revoked one", 404: "No such resource",
             409: "Conflicts with the resource's state", 413: "Body larger than the limit",
             422: "The input is invalid (every problem is listed with where it is), or larger than this service's "
                  "limits (code limit_exceeded, with the figure)",
             429: "Too many submissions in a minute, or too many unfinished jobs, for this key: try again after "
                  "Retry-After seconds",
             503: "The database cannot be used just now"}
    responses = {str(s): _json(_ref("Error"), words[s]) for s in statuses}
    if 429 in statuses:
        responses["429"]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return responses


def _id_parameter(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "maxLength": 100}}


PAGING = [
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                                   "default": 50}},
    {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0}},
]
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "Retrying with the same key returns the same job instead of a new one.",
               "schema": {"type": "string", "minLength": 1, "maxLength": 200}}


def _upload(kinds: dict[str, str], noun: str) -> dict:
    content = {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": f"the {noun} file; its suffix gives the format"},
                       "name": {"type": "string", "maxLength": 200}}}}}
    for media_type in kinds:
        content[media_type] = {"schema": {"type": "string"}}
    return {"required": True, "content": content}


def _job_request(extra: dict, limits: Limits) -> dict:
    properties = {
        "trip_set_id": {"type": "string"}, "fleet_id": {"type": "string"},
        "time_limit_s": {"type": "number", "minimum": 0.5, "maximum": limits.solve_seconds,
                         "description": "time limit of each solve, seconds"},
        "travel": {"type": "string", "enum": ["crow-fly", "road", "osrm"], "default": "crow-fly"},
        "far_points": {"type": "string", "enum": ["error", "warn"], "default": "warn"},
        **extra}
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["trip_set_id", "fleet_id"], "additionalProperties": False,
        "properties": properties}}}}


def _analysis_request(properties: dict, required: str, limits: Limits) -> dict:
    """A body of a job that solves nothing (contracts, lots): no time limit, and ``required``."""
    body = _job_request(properties, limits)
    schema = body["content"]["application/json"]["schema"]
    del schema["properties"]["time_limit_s"]
    schema["required"] = [*schema["required"], required]
    return body


def _contracts_request(limits: Limits) -> dict:
    """A contracts job's body: the register is required."""
    return _analysis_request(CONTRACTS_PROPERTIES, "register_csv", limits)


#: What a contracts job takes besides the trip set and fleet (docs/contracts.md).
CONTRACTS_PROPERTIES = {
    "register_csv": {"type": "string", "description": "the contract register as a CSV file's text "
                                                     "(one row per contract; required)"},
    "complete": {"type": "boolean", "default": False,
                 "description": "the register holds every contract of the day: a trip on no "
                                "contract is an error"},
    "turnaround_minutes": {"type": "number", "minimum": 0, "default": 5},
    "deadhead_per_mile": {"type": "number", "minimum": 0, "default": 1.5},
    "waiting_per_hour": {"type": "number", "minimum": 0, "default": 0},
    "longest_gap_minutes": {"type": "number", "minimum": 0, "default": 90},
    "near_km": {"type": "number", "minimum": 0, "default": 3},
    "overlap_share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5}}


#: What an operating-models job takes besides the trip set, fleet, seeds and time limit (docs/contracts.md).
MODELS_PROPERTIES = {
    "seeds": {"type": "integer", "minimum": 1, "default": 3, "description": "solves of each model, one a seed"},
    "register_csv": {"type": "string", "description": "the contract register as a CSV file's text (required)"},
    "complete": {"type": "boolean", "default": False},
    "shifts_csv": {"type": "string", "description": "clock moves to price too: a shift file's text, one shift a "
                                                   "destination; adds each solved model with the moves"},
    "models": {"type": "array", "items": {"type": "string", "enum": ["today", "retendered", "in_house", "hybrid"]}},
    "school_services": {"type": "array", "items": {"type": "string"}, "default": ["school", "sen"]},
    "school_days": {"type": "integer", "minimum": 0, "maximum": 366, "default": 190},
    "other_days": {"type": "integer", "minimum": 0, "maximum": 366, "default": 63},
    "vehicle_prices": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0},
                       "description": "pounds a vehicle to buy by fleet type name (else by size)"},
    "driver_per_hour": {"type": "number", "minimum": 0, "default": 15.0},
    "assistant_per_hour": {"type": "number", "minimum": 0, "default": 12.71},
    "minimum_paid_hours": {"type": "number", "minimum": 0, "default": 2.0},
    "overhead_share": {"type": "number", "minimum": 0, "default": 0.15},
    "margin_share": {"type": "number", "minimum": 0, "default": 0.10},
    "life_years": {"type": "number", "exclusiveMinimum": 0, "default": 7},
    "interest_rate": {"type": "number", "minimum": 0, "default": 0},
    "in_house_fleet_factor": {"type": "number", "minimum": 1, "default": 3},
    "sensitivity_step": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.2}}


def _models_request(limits: Limits) -> dict:
    body = _job_request(MODELS_PROPERTIES, limits)
    schema = body["content"]["application/json"]["schema"]
    schema["required"] = [*schema["required"], "register_csv"]
    return body


def _lots_request(limits: Limits) -> dict:
    """A lots job's body: the plan's job is required."""
    return _analysis_request(LOTS_PROPERTIES, "plan_job_id", limits)


#: What a lots job takes besides the trip set and fleet (docs/contracts.md, "Tender lots").
LOTS_PROPERTIES = {
    "plan_job_id": {"type": "string", "description": "one of your succeeded jobs on the same trip set and fleet, "
                                                    "whose plan to put in lots (required)"},
    "plan_result": {"type": "string", "enum": ["plan.json", "integrated-plan.json", "recommended-plan.json"],
                    "default": "plan.json", "description": "which of its plans: a solve's, a comparison's "
                                                           "integrated plan or the clock advisor's"},
    "lots": {"type": "integer", "minimum": 1, "description": "how many lots; give this or lot_size"},
    "lot_size": {"type": "integer", "minimum": 1, "description": "the most vehicles in a lot"},
    "group_by": {"type": "array", "items": {"type": "string", "enum": ["area", "time_band", "vehicle_type"]},
                 "default": ["area"], "description": "what lots are kept apart by"},
    "school_days": {"type": "integer", "minimum": 0, "maximum": 366, "default": 190},
    "other_days": {"type": "integer", "minimum": 0, "maximum": 366, "default": 63,
                   "description": "days out of term on which the all-year services run"},
    "term_time_services": {"type": "array", "items": {"type": "string"}, "default": ["school", "sen"]},
    "driver_per_hour": {"type": "number", "minimum": 0, "default": 15.0},
    "assistant_per_hour": {"type": "number", "minimum": 0, "default": 12.71},
    "minimum_paid_hours": {"type": "number", "minimum": 0, "default": 2.0},
    "overhead_share": {"type": "number", "minimum": 0, "default": 0.15},
    "margin_share": {"type": "number", "minimum": 0, "default": 0.10}}


#: Job kinds, as the API's job records and its kind filter name them.
JOB_KINDS = ("solve", "comparison", "clock", "contracts", "lots", "models", "replan", "week")
_CLOCK = {"type": "string", "description": "HH:MM"}
#: A re-plan's body: the changes document of ``itu replan`` (examples/rutland/changes.json) with
#: the disruption prices and the optional full search.
CHANGE_SCHEMAS = {
    "Changes": {"type": "object", "required": ["changes"], "additionalProperties": False, "properties": {
        "now": {**_CLOCK, "description": "HH:MM: stops the published plan serves before it are fixed, and nothing "
                                         "is placed before it (default 00:00)"},
        "changes": {"type": "array", "items": {"oneOf": [_ref("Cancel"), _ref("AddTrip"), _ref("MoveWindow"),
                                                         _ref("VehicleOff")]}},
        "prices": {"type": "object", "additionalProperties": False,
                   "description": "the disruption price, beside the plan's own cost", "properties": {
                       "moved_vehicle": {"type": "number", "minimum": 0, "default": 20,
                                         "description": "£ per passenger carried by another vehicle"},
                       "moved_pickup": {"type": "number", "minimum": 0, "default": 10,
                                        "description": "£ per pickup moved beyond the tolerance"},
                       "tolerance_minutes": {"type": "number", "minimum": 0, "default": 10}}},
        "resolve": {"type": "boolean", "default": False,
                    "description": "also search the whole day from the repaired routes; kept if cheaper, disruption "
                                   "included, and it leaves every stop before now where it was"},
        "time_limit_s": {"type": "number", "minimum": 0.5, "default": 10,
                         "description": "the full search's time limit (with resolve)"},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}},
    "Cancel": {"type": "object", "required": ["kind", "trip_id"], "additionalProperties": False, "properties": {
        "kind": {"const": "cancel"}, "trip_id": {"type": "string"}}},
    "AddTrip": {"type": "object", "required": ["kind", "trip"], "additionalProperties": False, "properties": {
        "kind": {"const": "add"},
        "trip": {"type": "object", "required": ["id"], "description": "a trip file's row: its columns, as text "
                                                                      "(a CSV or GeoJSON trip set)",
                 "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}}},
    "MoveWindow": {"type": "object", "required": ["kind", "trip_id"], "additionalProperties": False, "properties": {
        "kind": {"const": "move_window"}, "trip_id": {"type": "string"}, "earliest_pickup": _CLOCK,
        "latest_pickup": _CLOCK, "earliest_arrival": _CLOCK, "latest_arrival": _CLOCK}},
    "VehicleOff": {"type": "object", "required": ["kind", "vehicle_type", "vehicle_number"],
                   "additionalProperties": False, "properties": {
                       "kind": {"const": "vehicle_off"}, "vehicle_type": {"type": "string"},
                       "vehicle_number": {"type": "integer", "minimum": 0, "description": "as in plan.json"},
                       "from": {**_CLOCK, "description": "HH:MM: it carries nothing after this (default now)"}}},
}


def limits_description(limits: Limits) -> str:
    return (f"Limits of this service, checked before any work is done: at most {limits.trips_per_set:,} trips a "
            f"trip set, {limits.locations:,} places a problem, {limits.vehicles_per_type:,} vehicles of one type "
            f"and {limits.vehicles:,} in a fleet; {limits.solve_seconds:g} s a solve, {limits.seeds} seeds and "
            f"{limits.comparison_seconds:g} s of solving (seeds x seconds) a comparison; a job whose estimated "
            f"memory is over {limits.job_memory_mb:,.0f} MB is refused (422, code limit_exceeded, with the "
            f"estimate). Per API key: {limits.submissions_per_minute} submissions a minute and "
            f"{limits.queued_jobs_per_key} unfinished jobs (more get 429 with Retry-After); "
            f"{limits.running_jobs_per_key} jobs solved at once, the rest wait in the queue.")


def document(limits: Limits | None = None) -> dict:
    limits = limits or Limits()
    page = lambda item: {"type": "object", "required": ["items", "total", "limit", "offset", "next"],  # noqa: E731
                         "properties": {"items": {"type": "array", "items": _ref(item)},
                                        "total": {"type": "integer"}, "limit": {"type": "integer"},
                                        "offset": {"type": "integer"}, "next": {"type": ["string", "null"]}}}
    job_submit = {"202": {**_json(_ref("Job"), "Accepted: the job is queued; poll its url"),
                          "headers": {"Location": {"schema": {"type": "string"}}}},
                  **_errors(400, 401, 404, 409, 413, 422, 429, 503)}
    return as_openapi_30({
        "openapi": "3.0.3",
        "info": {"title": "Integrated transport route optimiser", "version": API_VERSION,
                 "description": "Plan school, SEN, social-care and patient trips together; compare integrated "
                                "planning against separate contracts. Times of day are HH:MM, money in pounds, "
                                "distances in km. Jobs run asynchronously: submit, poll, fetch results. "
                                + limits_description(limits),
                 "x-limits": {"trips_per_set": limits.trips_per_set, "locations": limits.locations,
                              "vehicles_per_type": limits.vehicles_per_type, "vehicles": limits.vehicles,
                              "solve_seconds": limits.solve_seconds, "seeds": limits.seeds,
                              "comparison_seconds": limits.comparison_seconds,
                              "job_memory_mb": limits.job_memory_mb,
                              "running_jobs_per_key": limits.running_jobs_per_key,
                              "queued_jobs_per_key": limits.queued_jobs_per_key,
                              "submissions_per_minute": limits.submissions_per_minute}},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {
            "/v1/health": {"get": {
                "operationId": "health", "security": [],
                "summary": "ok or degraded for anyone; with an API key also what is wrong, the database, the "
                           "workers and the key's own jobs",
                "responses": {"200": _json(_ref("Health"), "The service is up and takes work"),
                              "503": _json(_ref("Health"), "Degraded: the database refuses writes or the job "
                                                           "runner is not working")}}},
            "/v1/openapi.json": {"get": {"operationId": "openapi_document", "summary": "This document", "security": [],
                                         "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")}}},
            "/v1/docs": {"get": {"operationId": "api_docs", "summary": "Interactive documentation", "security": [],
                                 "responses": {"200": {"description": "HTML page",
                                                       "content": {"text/html": {"schema": {"type": "string"}}}}}}},
            "/v1/trip-sets": {
                "post": {"operationId": "create_trip_set", "summary": "Upload a trip file (CSV, GeoJSON, GeoPackage)",
                         "parameters": [{"name": "name", "in": "query", "required": False,
                                         "schema": {"type": "string", "maxLength": 200}}],
                         "requestBody": _upload({"text/csv": "csv", "application/geo+json": "geojson",
                                                 "application/geopackage+sqlite3": "gpkg"}, "trip"),
                         "responses": {"201": _json(_ref("TripSet"), "Stored"),
                                       **_errors(400, 401, 413, 422, 503)}},
                "get": {"operationId": "list_trip_sets", "summary": "Your trip sets, newest first", "parameters": PAGING,
                        "responses": {"200": _json(page("TripSet"), "A page"), **_errors(401, 422)}}},
            "/v1/trip-sets/{trip_set_id}": {"get": {
                "operationId": "get_trip_set", "parameters": [_id_parameter("trip_set_id", "trip set id")],
                "responses": {"200": _json(_ref("TripSet"), "The trip set"), **_errors(401, 404)}}},
            "/v1/fleets": {
                "post": {"operationId": "create_fleet", "summary": "Upload a fleet file (CSV or JSON)",
                         "parameters": [{"name": "name", "in": "query", "required": False,
                                         "schema": {"type": "string", "maxLength": 200}}],
                         "requestBody": _upload({"text/csv": "csv", "application/json": "json"}, "fleet"),
                         "responses": {"201": _json(_ref("Fleet"), "Stored"), **_errors(400, 401, 413, 422, 503)}},
                "get": {"operationId": "list_fleets", "summary": "Your fleets, newest first", "parameters": PAGING,
                        "responses": {"200": _json(page("Fleet"), "A page"), **_errors(401, 422)}}},
            "/v1/fleets/{fleet_id}": {"get": {
                "operationId": "get_fleet", "parameters": [_id_parameter("fleet_id", "fleet id")],
                "responses": {"200": _json(_ref("Fleet"), "The fleet"), **_errors(401, 404)}}},
            "/v1/solve-jobs": {"post": {
                "operationId": "create_solve_job", "summary": "Plan a trip set on a fleet", "parameters": [IDEMPOTENCY],
                "requestBody": _job_request({
                    "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "regions": {"type": "integer", "minimum": 1, "maximum": 1000,
                                "description": "plan the day as this many regions side by side (1 never splits); "
                                               "by default days from 4,000 trips are split, one region per 2,000"}},
                    limits),
                "responses": job_submit}},
            "/v1/comparison-jobs": {"post": {
                "operationId": "create_comparison_job",
                "summary": "Separate contracts against integrated planning, with the cost split",
                "parameters": [IDEMPOTENCY],
                "requestBody": _job_request({"seeds": {"type": "integer", "minimum": 1, "maximum": limits.seeds}},
                                            limits),
                "responses": job_submit}},
            "/v1/clock-jobs": {"post": {
                "operationId": "create_clock_job",
                "summary": "Which school bells and centre opening times to move, by how much, and what each move "
                           "saves (docs/clock-advisor.md)",
                "parameters": [IDEMPOTENCY],
                "requestBody": _job_request({
                    "seeds": {"type": "integer", "minimum": 1, "maximum": limits.seeds},
                    "shifts": {"description": "the shift options: a list of {destination, from_minutes, "
                                              "to_minutes, step_minutes, trips}, or {options: [...], limits: "
                                              "{most_moved, earliest_bell}}; give this or shifts_csv",
                               "oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}]},
                    "shifts_csv": {"type": "string", "description": "the shift options as a CSV file's text "
                                                                   "(header destination,from_minutes,to_minutes,"
                                                                   "step_minutes,trips)"},
                    "most_moved": {"type": "integer", "minimum": 1, "maximum": 100},
                    "earliest_bell": {"type": "string", "description": "HH:MM: no arrival at a moved destination "
                                                                       "before this"},
                    "objective": {"type": "string", "enum": ["cost", "vehicles"], "default": "cost"},
                    "max_rounds": {"type": "integer", "minimum": 1, "maximum": 10**7,
                                   "description": "round budget of each confirming solve"},
                    "screen_rounds": {"type": "integer", "minimum": 1, "maximum": 10**6,
                                      "description": "rounds of each short scoring solve"},
                    "search_limit_s": {"type": "number", "minimum": 1, "maximum": limits.comparison_seconds,
                                       "description": "stop scoring moves after this many seconds and confirm "
                                                      "the best found so far (a county day's bound)"}}, limits),
                "responses": job_submit}},
            "/v1/contracts-jobs": {"post": {
                "operationId": "create_contracts_job",
                "summary": "Today's contracts: chains of one operator's contracts, near-identical runs, occupancy "
                           "and idle time, each priced (docs/contracts.md)",
                "parameters": [IDEMPOTENCY],
                "requestBody": _contracts_request(limits),
                "responses": job_submit}},
            "/v1/models-jobs": {"post": {
                "operationId": "create_models_job",
                "summary": "Operating models side by side: today's register, re-tendered routes, in-house and "
                           "hybrid, a day and a year, with spread over seeds and the sensitivity (docs/contracts.md)",
                "parameters": [IDEMPOTENCY],
                "requestBody": _models_request(limits),
                "responses": job_submit}},
            "/v1/lots-jobs": {"post": {
                "operationId": "create_lots_job",
                "summary": "A stored plan's vehicles in tender lots, each with its schedules, staff and estimated "
                           "price, and the tender pack (docs/contracts.md)",
                "parameters": [IDEMPOTENCY],
                "requestBody": _lots_request(limits),
                "responses": job_submit}},
            "/v1/week-jobs": {"post": {
                "operationId": "create_week_job",
                "summary": "Plan a week so that regular passengers keep their vehicle and pickup time, with what "
                           "that costs against planning each day alone (docs/week.md)",
                "description": "The trip set's rows say the days they run (a days column) and who travels (a "
                               "passenger column). The job runs a template solve, one solve a day and, for the "
                               "premium, each day alone: at most the comparison limit of seconds in all. Results: "
                               "week.json, week.md and each day's plan files (Mon-plan.json, Mon-map.html, ...).",
                "parameters": [IDEMPOTENCY],
                "requestBody": _job_request({
                    "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "method": {"type": "string", "enum": ["template", "independent"], "default": "template"},
                    "tolerance_minutes": {"type": "number", "minimum": 0, "maximum": 180, "default": 10,
                                          "description": "how far a regular pickup may move from its told time"},
                    "consistent": {"type": "array", "items": {"type": "string"},
                                   "description": "services kept consistent besides sen, social_care and school"},
                    "preferred": {"type": "array", "items": {"type": "string"},
                                  "description": "services planned in the template and started there each day, "
                                                 "free to move where it pays (default: none)"},
                    "free": {"type": "array", "items": {"type": "string"},
                             "description": "services planned freely each day besides nept"},
                    "compare_independent": {"type": "boolean", "default": True,
                                            "description": "also plan each day alone, for the premium"},
                    "share_template_vehicles": {
                        "type": "boolean", "default": True,
                        "description": "template method: each day's other trips may join the template's vehicles "
                                       "and regular pickups move within the tolerance (false: the template's "
                                       "routes are kept as planned, other trips go on the vehicles left free)"},
                    "template_search": {
                        "type": "number", "minimum": 1, "default": 8,
                        "description": "template method: the template's solve gets this many times time_limit_s "
                                       "(it is planned once and every day is built around it); counted in the "
                                       "job's limit on seconds of solving"}},
                    limits),
                "responses": job_submit}},
            "/v1/plans/{plan_id}/changes": {"post": {
                "operationId": "create_replan_job",
                "summary": "Re-plan a stored plan (a succeeded solve job's) after the day's changes, moving as "
                           "few passengers as the disruption price makes worthwhile (docs/replanning.md). A job: "
                           "poll its url; its results are the new plan's files, replan.json, calls.json, calls.csv "
                           "(who to phone: old and new vehicle and pickup) and replan.md. The published plan is "
                           "read, never written; send all the day's changes against it each time. A change that "
                           "does not fit the day (an unknown trip or vehicle, a change in the past, a vehicle "
                           "leaving the road with a passenger on board) fails the job with the field named",
                "parameters": [_id_parameter("plan_id", "the solve job whose plan is re-planned"), IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Changes")}}},
                "responses": job_submit}},
            "/v1/jobs": {"get": {
                "operationId": "list_jobs", "summary": "Your jobs, newest first",
                "parameters": PAGING + [
                    {"name": "state", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]}},
                    {"name": "kind", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": list(JOB_KINDS)}}],
                "responses": {"200": _json(page("Job"), "A page"), **_errors(401, 422)}}},
            "/v1/jobs/{job_id}": {"get": {
                "operationId": "get_job", "summary": "A job's state, progress and result links",
                "parameters": [_id_parameter("job_id", "job id")],
                "responses": {"200": _json(_ref("Job"), "The job"), **_errors(401, 404)}}},
            "/v1/jobs/{job_id}/cancel": {"post": {
                "operationId": "cancel_job", "summary": "Cancel a queued or running job",
                "parameters": [_id_parameter("job_id", "job id")],
                "responses": {"202": _json(_ref("Job"), "Cancellation asked for (a running solve stops at its "
                                                        "next check and keeps its best plan)"),
                              **_errors(401, 404, 409)}}},
            "/v1/jobs/{job_id}/results/{name}": {"get": {
                "operationId": "get_job_result",
                "summary": "A result file: plan.json, plan.geojson, routes.csv, map.html; for comparisons "
                           "comparison.json, report.html, report.md, chart-*.svg and integrated-*; for clock jobs clock.json, "
                           "clock.html, clock.md, moves.csv, vehicles.svg, saving.svg and recommended-*; for contracts jobs "
                           "findings.json, contracts.html, contracts.md, findings.csv, contracts.csv and "
                           "contracts.geojson; for lots jobs index.html, lots.json, lots.csv, lots.md, lot-NN.html, "
                           "lot-NN-schedule.csv, lots.gpkg and lots-map.html; for models jobs models.json, "
                           "models.html, models.md, models.csv, seeds.csv, annual-cost.svg and tornado.svg; for "
                           "re-plans the plan's files, replan.json, calls.json, calls.csv and replan.md",
                "parameters": [_id_parameter("job_id", "job id"), _id_parameter("name", "result name")],
                "responses": {"200": {"description": "The file", "content": {
                    "application/json": {"schema": {}}, "application/geo+json": {"schema": {}},
                    "text/csv": {"schema": {"type": "string"}}, "text/html": {"schema": {"type": "string"}},
                    "text/markdown": {"schema": {"type": "string"}},
                    "application/geopackage+sqlite3": {"schema": {"type": "string", "format": "binary"}},
                    "image/svg+xml": {"schema": {"type": "string"}}}}, **_errors(401, 404, 409)}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "description": "stable, machine-readable"},
                    "message": {"type": "string"}, "where": {"type": ["string", "null"],
                                                             "description": "path of the offending field"},
                    "retry_after_s": {"type": "integer", "description": "with 429: seconds to wait"},
                    "problems": {"type": "array", "items": {"type": "object", "properties": {
                        "message": {"type": "string"}, "file": {"type": "string"}, "row": {"type": "integer"},
                        "trip_id": {"type": "string"}, "column": {"type": "string"}}}}}},
                **CHANGE_SCHEMAS,
                "Health": {"type": "object", "required": ["status"], "properties": {
                    "status": {"type": "string", "enum": ["ok", "degraded"]},
                    "problems": {"type": "array", "items": {"type": "string"}},
                    "database": {"type": "string"}, "jobs_queued": {"type": "integer"},
                    "jobs_running": {"type": "integer"}, "workers": {"type": "integer"},
                    "development_mode": {"type": "boolean"}}},
                "TripSet": {"type": "object", "required": ["id", "name", "format", "trip_count", "url"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "format": {"type": "string", "enum": ["csv", "geojson", "gpkg"]},
                    "trip_count": {"type": "integer"}, "services": {"type": "array", "items": {"type": "string"}},
                    "created_at": {"type": "string"}, "url": {"type": "string"},
                    "warnings": {"type": "array", "items": {"type": "string"}}}},
                "Fleet": {"type": "object", "required": ["id", "name", "format", "vehicle_types", "url"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "format": {"type": "string", "enum": ["csv", "json"]}, "vehicle_types": {"type": "integer"},
                    "created_at": {"type": "string"}, "url": {"type": "string"}}},
                "Job": {"type": "object", "required": ["id", "kind", "state", "progress", "url", "results"],
                        "properties": {
                            "id": {"type": "string"},
                            "kind": {"type": "string", "enum": list(JOB_KINDS)},
                            "state": {"type": "string",
                                      "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
                            "trip_set_id": {"type": "string"}, "fleet_id": {"type": "string"},
                            "options": {"type": "object"}, "attempts": {"type": "integer"},
                            "cancel_requested": {"type": "boolean"},
                            "progress": {"type": "object", "description": "elapsed_s, time_limit_s, best_cost, "
                                                                          "fraction, solves_done, solves_total"},
                            "error": {"type": ["object", "null"]}, "summary": {"type": ["object", "null"]},
                            "created_at": {"type": "string"}, "started_at": {"type": ["string", "null"]},
                            "finished_at": {"type": ["string", "null"]}, "url": {"type": "string"},
                            "cancel_url": {"type": "string"},
                            "results": {"type": "object", "additionalProperties": {"type": "string"}}}},
            },
        },
    })


def as_openapi_30(node):
    """The document in OpenAPI 3.0's dialect of JSON Schema: the schemas are written with 3.1's
    ``const``, type lists for nullable values and numeric ``exclusiveMinimum``, but the bundled
    Swagger UI (4.x) renders only 3.0, as do many client generators a scheduling system would use."""
    if isinstance(node, list):
        return [as_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_openapi_30(value) for key, value in node.items()}
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        out["type"] = types[0] if len(types) == 1 else types
        if len(types) < len(node["type"]):
            out["nullable"] = True
        if isinstance(out["type"], list):  # several types: 3.0 says so with oneOf
            out["oneOf"] = [{"type": t} for t in out.pop("type")]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), (int, float)) and not isinstance(out.get(bound), bool):
            out[inclusive] = out[bound]
            out[bound] = True
    return out
