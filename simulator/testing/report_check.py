"""Every report a test sees is checked against the report's JSON Schema (``jsonschema``, a test
dependency), so the schema and the reports can never drift apart unnoticed."""

from __future__ import annotations

from typing import Any

from simulator.report_schema import schema


def assert_valid_report(report: dict[str, Any]) -> dict[str, Any]:
    """``report``, after checking it against the schema; AssertionError naming what is wrong."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        shown = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}" for e in errors[:5]
        )
        raise AssertionError(f"the report does not fit its schema: {shown}")
    return report
