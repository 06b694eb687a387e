"""The report's JSON Schema (``report_schema.json`` beside this module, shipped in the package),
and the small check ``simulate.py report`` makes of a file before reading it.

The schema is the full description (draft 2020-12: any validator reads it; the tests validate
every report they produce with ``jsonschema``). The simulator itself needs no validator:
``problem`` checks what reading a report relies on, its version and its top-level keys.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from simulator.report import REPORT_VERSION


@cache
def schema() -> dict[str, Any]:
    return json.loads((resources.files("simulator") / "report_schema.json").read_text(encoding="utf-8"))


def problem(report: object) -> str | None:
    """Why ``report`` is not a report this version of the simulator reads, in one line; or None."""
    if not isinstance(report, dict):
        return "not a JSON object"
    version = report.get("version")
    if version != REPORT_VERSION:
        return f"a report of version {version!r}; this simulator reads version {REPORT_VERSION}"
    missing = [key for key in schema()["required"] if key not in report]
    if missing:
        return f"no {', '.join(missing[:5])} in it"
    return None
