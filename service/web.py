"""The planner's web page: upload trips and a fleet (or take the bundled Rutland example), run a
comparison, watch it progress, then see the integrated routes on a map, the savings with
their charts, the cost split, and download links. It is a client of the /v1 API like any
scheduling system; nothing here plans or prices anything. The page is a Jinja2 template
(``templates/planner.html``, autoescaped) with its script and style as static files."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, send_from_directory

bp = Blueprint("web", __name__)
EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "rutland"


def example_files() -> dict[str, bytes]:
    """The bundled example: the committed files, or the same day generated afresh (seed 1,
    200 trips) where the package was installed without the examples folder."""
    if (EXAMPLE_DIR / "trips.csv").is_file() and (EXAMPLE_DIR / "fleet.json").is_file():
        return {name: (EXAMPLE_DIR / name).read_bytes()
                for name in ("trips.csv", "fleet.json", "shifts.csv", "register.csv") if (EXAMPLE_DIR / name).is_file()}
    import tempfile

    from geodata.scenario import generate_scenario, synthetic_area, write_scenario

    with tempfile.TemporaryDirectory() as folder:
        write_scenario(generate_scenario(synthetic_area("rutland"), trips=200, seed=1), folder)
        return {name: (Path(folder) / name).read_bytes() for name in ("trips.csv", "fleet.json")}


@bp.get("/examples/rutland/<name>")
def example_file(name: str):
    files = example_files()
    if name not in files:
        abort(404)
    return Response(files[name], mimetype="text/csv" if name.endswith(".csv") else "application/json")


@bp.get("/assets/swagger/<path:name>")
def swagger_asset(name: str):
    import swagger_ui_bundle

    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name)


@bp.get("/")
def planner_page():
    import json

    from geodata.export import SERVICE_COLOURS

    return render_template("planner.html", dev_mode=bool(current_app.config["DEV_MODE"]),
                           service_colours=json.dumps(SERVICE_COLOURS))
