"""Today's contracts: the register is read and checked like the trip files, and the analysis finds
chains and duplicates priced exactly by its stated rules."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from optimiser import (ContractAnalysisOptions, InputFormatError, Layout, ProblemBuilder, TravelMatrix,
                       analyse_contracts, read_register)
from optimiser.domain.register import METRES_PER_MILE, register_from_csv_text, write_register
from tests.conftest import ROOT

RUTLAND = ROOT / "examples" / "rutland"
HEADER = "id,operator,kind,services,vehicle_type,layout,days,price_basis,price,minimum,miles,duty_start,duty_end,trips\n"

#: depot, two homes 1 mile apart, a school, a second area's home and a day centre. Times in seconds.
PLACES = ("depot", "home_a1", "home_a2", "school", "home_b", "centre")


def small_day():
    """Six trips on a matrix with round distances: the school is 3 miles from home_b (600 s)."""
    n = len(PLACES)
    seconds = np.full((n, n), 900.0)
    metres = np.full((n, n), 8 * METRES_PER_MILE)
    np.fill_diagonal(seconds, 0.0)
    np.fill_diagonal(metres, 0.0)

    def both(a, b, s, m):
        i, j = PLACES.index(a), PLACES.index(b)
        seconds[i, j] = seconds[j, i] = s
        metres[i, j] = metres[j, i] = m

    both("school", "home_b", 600.0, 3 * METRES_PER_MILE)
    both("home_a1", "home_a2", 120.0, 1 * METRES_PER_MILE)
    both("home_a1", "school", 900.0, 5 * METRES_PER_MILE)
    both("home_a2", "school", 900.0, 5 * METRES_PER_MILE)
    b = ProblemBuilder(TravelMatrix(PLACES, seconds, metres), name="small")
    b.add_vehicle_type("minibus", count=2, depot="depot", shift_start="07:00", shift_end="18:00",
                       layouts=[Layout("16 seats", seats=16), Layout("12 + 1", seats=12, wheelchair_spaces=1)])
    b.add_trip("P1", "school", "home_a1", "school", latest_arrival="08:45", earliest_arrival="08:30")
    b.add_trip("P2", "school", "home_a2", "school", latest_arrival="08:45", earliest_arrival="08:30")
    b.add_trip("P3", "sen", "home_a2", "school", latest_arrival="08:45", earliest_arrival="08:30")
    b.add_trip("C1", "social_care", "home_b", "centre", latest_arrival="10:00", earliest_arrival="09:30")
    b.add_trip("C2", "social_care", "centre", "home_b", earliest_pickup="16:30", latest_pickup="16:50")
    b.add_trip("W1", "social_care", "home_b", "centre", latest_arrival="10:00", earliest_arrival="09:30", seats=0,
               wheelchair_spaces=1)
    return b.build()


def register(text: str, problem=None, **kwargs):
    return register_from_csv_text(HEADER + text, problem or small_day(), **kwargs)


# ------------------------------------------------------------------------------ chains, priced
def test_two_contracts_of_one_operator_that_chain_are_found_and_priced_to_the_penny():
    problem = small_day()
    reg = register("SCH-1,Vale Coaches,route,school,minibus,,Mon-Fri,day,120.00,,,07:45,09:00,P1;P2\n"
                   "ASC-1,Vale Coaches,route,social_care,minibus,,Mon-Fri,day,95.50,,,09:30,10:15,C1\n"
                   "ASC-2,Other Cars,route,social_care,minibus,,Mon-Fri,day,60.00,,,16:20,17:30,C2\n"
                   "SEN-1,Other Cars,route,sen,minibus,,Mon-Fri,day,70.00,,,07:45,09:00,P3\n", problem)
    analysis = analyse_contracts(problem, reg, ContractAnalysisOptions(deadhead_per_mile=1.5, turnaround_minutes=5))
    chains = [f for f in analysis.findings if f["kind"] == "chain"]
    assert [c["contracts"] for c in chains] == [["SCH-1", "ASC-1"]]  # the other operator's contracts are not chained
    chain = chains[0]
    # school (the morning run's last stop) to home_b (the next run's first): 3 miles at £1.50, 10 minutes
    assert chain["deadhead_miles"] == pytest.approx(3.0)
    assert chain["deadhead_minutes"] == 10.0
    assert chain["price_before"] == 215.50
    assert chain["price_after"] == 124.50  # the dearer day rate, 120.00, plus 3 miles at 1.50
    assert chain["saving_a_day"] == 91.00
    assert chain["saving_a_week"] == 455.00
    assert analysis.sequences[0]["contracts"] == ["SCH-1", "ASC-1"]
    assert analysis.overall["vehicles_saved_by_chains"] == 1
    # the time between the duties, 30 minutes, at £10 an hour is added to the merged price
    waiting = analyse_contracts(problem, reg, ContractAnalysisOptions(waiting_per_hour=10.0))
    assert [f["saving_a_day"] for f in waiting.findings if f["kind"] == "chain"] == [86.00]


def test_a_chain_needs_time_for_the_empty_drive_and_the_turnaround():
    problem = small_day()
    # the morning duty ends 09:00; 10 minutes' drive and 5 to turn round: 09:14 is too soon, 09:15 is not
    too_soon = register("SCH-1,Vale Coaches,route,school,minibus,,,day,120,,,07:45,09:00,P1;P2\n"
                        "ASC-1,Vale Coaches,route,social_care,minibus,,,day,95.50,,,09:14,10:15,C1\n", problem)
    just = register("SCH-1,Vale Coaches,route,school,minibus,,,day,120,,,07:45,09:00,P1;P2\n"
                    "ASC-1,Vale Coaches,route,social_care,minibus,,,day,95.50,,,09:15,10:15,C1\n", problem)
    assert not analyse_contracts(problem, too_soon).chains
    assert [c["contracts"] for c in analyse_contracts(problem, just).chains] == [["SCH-1", "ASC-1"]]
    # on days the two never both run there is nothing to chain
    apart = register("SCH-1,Vale Coaches,route,school,minibus,,Mon-Wed,day,120,,,07:45,09:00,P1;P2\n"
                     "ASC-1,Vale Coaches,route,social_care,minibus,,Thu;Fri,day,95.50,,,09:30,10:15,C1\n", problem)
    assert not analyse_contracts(problem, apart).chains


def test_a_chain_needs_a_vehicle_that_carries_both_runs():
    problem = small_day()
    # a car with four seats cannot carry the wheelchair, the wheelchair vehicle has no seat: no chain
    reg = register("SCH-1,Vale Coaches,route,school,car,4 seats,,day,120,,,07:45,09:00,P1;P2\n"
                   "ASC-1,Vale Coaches,route,social_care,van,1 wheelchair,,day,95.50,,,09:30,10:15,W1\n", problem)
    assert not analyse_contracts(problem, reg).chains
    # a later vehicle with seats and a wheelchair space carries both runs: the chain runs on it
    reg = register("SCH-1,Vale Coaches,route,school,car,4 seats,,day,120,,,07:45,09:00,P1;P2\n"
                   "ASC-1,Vale Coaches,route,social_care,van,4 seats + 1 wheelchair,,day,95.50,,,09:30,10:15,W1\n",
                   problem)
    assert [c["vehicle_of"] for c in analyse_contracts(problem, reg).chains] == ["ASC-1"]


def test_per_mile_and_per_trip_prices_make_the_price_of_a_day():
    problem = small_day()
    reg = register("SCH-1,Vale Coaches,route,school,minibus,,,mile,2.50,40,30,07:45,09:00,P1;P2\n"
                   "SEN-2,Vale Coaches,route,sen,minibus,,,mile,2.50,40,10,07:45,09:00,P3\n"
                   "TX-1,Castle Cars,taxi,social_care,taxi,4 seats,,trip,12.25,,,,,C1;C2\n", problem)
    runs = {r.contract.id: r for r in analyse_contracts(problem, reg).runs}
    assert runs["SCH-1"].price == 75.00  # 30 miles at 2.50
    assert runs["SEN-2"].price == 40.00  # 10 miles at 2.50 is less than the minimum
    assert runs["TX-1"].price == 24.50  # two trips at 12.25


# ------------------------------------------------------------------------------ duplicates
def test_near_identical_runs_at_the_same_time_are_found_with_the_saving():
    problem = small_day()
    reg = register("SCH-1,Vale Coaches,route,school,minibus,,,day,80.00,,,07:45,09:00,P1\n"
                   "SEN-1,Meadow Minibuses,route,sen,minibus,,,day,70.00,,,07:50,09:00,P3\n"
                   "ASC-1,Vale Coaches,route,social_care,minibus,,,day,95.50,,,09:30,10:15,C1\n", problem)
    duplicates = [f for f in analyse_contracts(problem, reg).findings if f["kind"] == "duplicate"]
    assert len(duplicates) == 1
    found = duplicates[0]
    # home_a1 and home_a2 are a mile apart, both runs end at the school: one mile's detour at 1.50,
    # and the dearer contract is the one dropped
    assert (found["keep"], found["drop"]) == ("SEN-1", "SCH-1")
    assert found["saving_a_day"] == 78.50
    assert found["operators"] == ["Meadow Minibuses", "Vale Coaches"]
    # too far apart to be the same journey
    assert not analyse_contracts(problem, reg, ContractAnalysisOptions(near_km=1.0)).duplicates


def test_occupancy_and_idle_time_of_a_contract():
    problem = small_day()
    reg = register("SCH-1,Vale Coaches,route,school,minibus,,,day,80.00,,,08:00,09:00,P1;P2\n", problem)
    run = analyse_contracts(problem, reg).runs[0]
    # both pupils ride 15 minutes plus 2 + 2 minutes at the stops, arriving at 08:45: on board together
    assert run.peak_passengers == 2 and run.places == 16
    assert run.rides["P1"] == (8 * 3600 + 45 * 60 - 19 * 60, 8 * 3600 + 45 * 60)
    # busy 08:26 to 08:45 of a 60-minute duty: 41 minutes idle
    assert run.idle_minutes == pytest.approx(41.0)


# ------------------------------------------------------------------------------ the register refused
def test_a_trip_on_two_contracts_is_refused_naming_both_contracts_and_the_row():
    with pytest.raises(InputFormatError) as caught:
        register("SCH-1,Vale Coaches,route,school,minibus,,,day,80,,,07:45,09:00,P1;P2\n"
                 "SCH-2,Meadow Minibuses,route,school,minibus,,,day,70,,,07:45,09:00,P2\n")
    error = caught.value
    assert "SCH-1" in str(error) and "SCH-2" in str(error)
    [item] = error.problems
    assert (item["row"], item["contract_id"], item["column"], item["trip_id"]) == (3, "SCH-2", "trips", "P2")
    assert "SCH-1 (row 2)" in item["message"]


def test_every_bad_row_is_listed_with_its_row_contract_and_column():
    text = ("SCH-1,Vale Coaches,route,school,minibus,,,day,abc,,,07:45,09:00,P1\n"
            "SCH-2,,route,school,minibus,,Mon-Fry,day,70,,,09:00,08:00,P2;P9\n"
            "SCH-3,Vale Coaches,bus,school,minibus,,,weekly,70,,,07:45,09:00,P3\n"
            "SCH-4,Vale Coaches,route,school,lorry,,,day,70,,,,09:00,C1\n"
            "SCH-1,Vale Coaches,route,school,minibus,,,day,70,,,07:45,09:00,C2\n")
    with pytest.raises(InputFormatError) as caught:
        register(text)
    found = {(p.get("row"), p.get("contract_id"), p.get("column")) for p in caught.value.problems}
    assert {(2, "SCH-1", "price"), (3, "SCH-2", "operator"), (3, "SCH-2", "days"), (3, "SCH-2", "duty_end"),
            (3, "SCH-2", "trips"), (4, "SCH-3", "kind"), (4, "SCH-3", "price_basis"), (4, "SCH-3", "trips"),
            (5, "SCH-4", "layout"), (5, "SCH-4", "duty_start"), (5, "SCH-4", "trips"),
            (6, "SCH-1", "id")} <= found
    unknown = [p for p in caught.value.problems if p.get("trip_id") == "P9"]
    assert unknown and "unknown trip id" in unknown[0]["message"]
    # a sen trip on a school contract, a social-care trip on a school contract: the services are checked
    assert any(p.get("trip_id") == "P3" and "sen trip" in p["message"] for p in caught.value.problems)


def test_a_misspelt_or_missing_column_is_refused_before_any_row():
    with pytest.raises(InputFormatError) as caught:
        register_from_csv_text("id,operator,price_basis,prise,trips\nA,B,day,1,P1\n", small_day())
    assert {(p["column"], p["row"]) for p in caught.value.problems} == {("price", 1), ("prise", 1)}
    assert "did you mean 'price'" in str(caught.value)


def test_a_complete_register_reports_every_trip_on_no_contract():
    text = "SCH-1,Vale Coaches,route,school;sen,minibus,,,day,80,,,07:45,09:00,P1;P2;P3\n"
    partial = register(text)
    assert partial.uncovered == ("C1", "C2", "W1")
    with pytest.raises(InputFormatError) as caught:
        register(text, complete=True)
    assert sorted(p["trip_id"] for p in caught.value.problems) == ["C1", "C2", "W1"]
    assert "complete" in caught.value.problems[0]["message"]


# ------------------------------------------------------------------------------ the bundled example
def rutland_day():
    from geodata.files import load_day

    return load_day(RUTLAND / "trips.csv", RUTLAND / "fleet.json")


def test_the_rutland_register_is_complete_and_has_chains_and_duplicates():
    day = rutland_day()
    reg = read_register(RUTLAND / "register.csv", day.problem, complete=True)
    analysis = analyse_contracts(day.problem, reg)
    assert analysis.chains and analysis.duplicates
    assert len({c.operator for c in reg.contracts}) >= 4
    services_of = {}
    for c in reg.contracts:
        if c.kind == "route":
            services_of.setdefault(c.operator, set()).update(c.services)
    assert any(len(s) >= 2 for s in services_of.values())  # an operator holding contracts for two services
    # every chain's saving is its prices less the merged price, to the penny
    for chain in analysis.chains:
        assert chain["saving_a_day"] == round(chain["price_before"] - chain["price_after"], 2) > 0
        assert chain["operators"][0] == reg.contract(chain["contracts"][1]).operator


def test_the_documented_example_rows_read_against_the_rutland_day():
    text = (ROOT / "docs" / "contracts.md").read_text()
    block = text[text.index("```\nid,operator,") + 4:]
    block = block[:block.index("```")]
    reg = register_from_csv_text(block, rutland_day().problem, source="docs/contracts.md")
    assert [c.id for c in reg.contracts] == ["TX-004", "SCH-002", "SCH-004", "ASC-003"]
    assert reg.contract("ASC-003").layouts  # the fleet's minibus layouts, the column left empty


def test_the_rutland_register_is_what_the_generator_writes(tmp_path):
    from geodata.scenario import plausible_register

    written = write_register(plausible_register(rutland_day().problem, seed=1), tmp_path / "register.csv")
    assert written.read_text() == (RUTLAND / "register.csv").read_text()


# ------------------------------------------------------------------------------ the command line and reports
def itu(*args):
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_itu_contracts_analyse_writes_the_findings(tmp_path):
    proc = itu("contracts", "analyse", str(RUTLAND / "trips.csv"), str(RUTLAND / "fleet.json"), "--register",
               str(RUTLAND / "register.csv"), "--complete", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    saved = json.loads((tmp_path / "findings.json").read_text())
    assert printed == saved and saved["overall"]["chains"] > 0
    assert (tmp_path / "findings.csv").read_text().count("\n") == len(saved["findings"]) + 1
    layer = json.loads((tmp_path / "contracts.geojson").read_text())
    assert {f["properties"]["layer"] for f in layer["features"]} == {"contract", "chain", "duplicate"}
    assert "Today's contracts" in (tmp_path / "contracts.html").read_text()


def test_itu_contracts_analyse_names_the_bad_row_without_a_traceback(tmp_path):
    bad = tmp_path / "register.csv"
    lines = (RUTLAND / "register.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",day,", ",dya,") if ",day," in lines[3] else lines[3].replace(",trip,", ",dya,")
    bad.write_text("\n".join(lines) + "\n")
    proc = itu("contracts", "analyse", str(RUTLAND / "trips.csv"), str(RUTLAND / "fleet.json"), "--register", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    contract_id = lines[3].split(",")[0]
    assert f"row 4, contract {contract_id}, column price_basis" in proc.stderr
    missing = itu("contracts", "analyse", str(RUTLAND / "trips.csv"), str(RUTLAND / "fleet.json"), "--register",
                  str(tmp_path / "nothing.csv"))
    assert missing.returncode == 2 and "nothing.csv" in missing.stderr and "Traceback" not in missing.stderr


def test_the_reports_show_a_users_strings_as_text():
    from optimiser.reporting.contracts_report import html_report, markdown

    problem = small_day()
    reg = register('SCH-1,"<b>Vale</b> | Coaches",route,school,minibus,,,day,120,,,07:45,09:00,P1;P2\n'
                   'ASC-1,"<b>Vale</b> | Coaches",route,social_care,minibus,,,day,95.50,,,09:30,10:15,C1\n', problem)
    analysis = analyse_contracts(problem, reg)
    assert "<b>Vale" not in html_report(analysis) and "&lt;b&gt;Vale" in html_report(analysis)
    text = markdown(analysis)
    assert "<b>" not in text and "| Coaches" not in text


def test_the_csv_files_keep_a_users_formula_as_text(tmp_path):
    from optimiser.reporting.contracts_report import write_contract_analysis

    problem = small_day()
    reg = register('=HYPERLINK("x"),-Vale,route,school,minibus,,,day,120,,,07:45,09:00,P1;P2\n'
                   'ASC-1,-Vale,route,social_care,minibus,,,day,95.50,,,09:30,10:15,C1\n', problem)
    write_contract_analysis(analyse_contracts(problem, reg), tmp_path)
    import csv

    rows = list(csv.DictReader((tmp_path / "findings.csv").open()))
    assert rows[0]["contracts"].startswith("\'=HYPERLINK") and rows[0]["operators"] == "\'-Vale"
    assert rows[0]["saving_a_day"] == "91.0"
    contracts = list(csv.DictReader((tmp_path / "contracts.csv").open()))
    assert contracts[0]["contract"].startswith("\'=") and not contracts[0]["price_a_day"].startswith("\'")


# ------------------------------------------------------------------------------ the planner's page
@pytest.mark.slow
def test_analyse_the_example_register_from_the_planners_page(served, browser):
    """The page's contracts section: no register chosen is said on the page; the example's register
    analysed, its figures, its largest findings (dearest first), the report and the downloads shown."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    page.click("#contracts-run")
    assert "Choose a contract register" in page.inner_text("#contracts-error")
    page.click("#contracts-use-example")
    # at once, before the register has loaded: the run waits for it rather than asking for one
    page.click("#contracts-run")
    page.wait_for_selector("#contracts-results:not([hidden])", timeout=120_000)
    assert "91 with 6 operators" in page.inner_text("#contracts-figures")
    rows = page.locator("#contracts-findings tbody tr")
    assert rows.count() == 15
    savings = [float(rows.nth(k).locator("td").nth(3).inner_text().lstrip("£-").replace(",", "")) for k in range(2)]
    assert savings[0] >= savings[1] > 0
    page.frame_locator("#contracts-report").locator("h1").first.wait_for(timeout=30_000)
    assert "findings.json" in page.inner_text("#contracts-downloads")
    assert not page.inner_text("#contracts-error")
    assert not errors


# ------------------------------------------------------------------------------ the API job
@pytest.fixture
def service(dev_service):
    return dev_service


def submit_contracts(client, **body):
    from tests.test_service_api import submit_on_the_example

    return submit_on_the_example(client, "/v1/contracts-jobs", **body)


def run_claimed(app, url, job_id):
    from service.jobs import run_job
    from service.store import Job

    with app.extensions["itu.store"].session() as s, s.begin():  # claimed, as a job runner claims it
        s.get(Job, job_id).dispatched_by = "this test"
    return run_job(job_id, url, dict(app.config))


def test_a_contracts_job_writes_the_analysis_the_command_line_writes(service):
    app, url = service
    client = app.test_client()
    register_text = (RUTLAND / "register.csv").read_text()
    response = submit_contracts(client, register_csv=register_text, complete=True, deadhead_per_mile=2.0)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "contracts"
    assert run_claimed(app, url, job["id"]) == "succeeded"
    done = client.get(job["url"]).get_json()
    assert {"findings.json", "contracts.html", "contracts.md", "findings.csv", "contracts.csv",
            "contracts.geojson"} <= set(done["results"])
    findings = client.get(done["results"]["findings.json"]).get_json()
    assert findings["options"]["deadhead_per_mile"] == 2.0
    day = rutland_day()
    expected = analyse_contracts(day.problem, read_register(RUTLAND / "register.csv", day.problem),
                                 ContractAnalysisOptions(deadhead_per_mile=2.0))
    assert findings["overall"] == expected.overall
    assert done["summary"]["chain_saving_a_day"] == expected.overall["chain_saving_a_day"]
    assert client.get("/v1/jobs?kind=contracts").get_json()["total"] == 1


def test_a_contracts_job_with_a_bad_register_fails_naming_the_row_contract_and_column(service):
    app, url = service
    client = app.test_client()
    assert submit_contracts(client).get_json()["where"] == "body.register_csv"
    refused = submit_contracts(client, register_csv="x", overlap_share=0)
    assert refused.status_code == 422 and refused.get_json()["where"] == "body.overlap_share"
    lines = (RUTLAND / "register.csv").read_text().splitlines()
    lines[2] = lines[2].replace(",trip,", ",fortnight,")
    response = submit_contracts(client, register_csv="\n".join(lines) + "\n")
    assert response.status_code == 202
    job = response.get_json()
    assert run_claimed(app, url, job["id"]) == "failed"
    error = client.get(job["url"]).get_json()["error"]
    assert error["code"] == "invalid_input"
    assert [(p["row"], p["contract_id"], p["column"]) for p in error["problems"]] == [
        (3, lines[2].split(",")[0], "price_basis")]
