"""Shared bits of the reliability tests: the fault-matrix results table, written to
``test-artifacts/fault-matrix.md`` and printed at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

RESULTS: list[dict[str, str]] = []
COLUMNS = ["provider", "fault", "mode", "create requests sent", "received by provider",
           "accepted creates", "final state", "events", "failure reason"]


def matrix_markdown(vendor: str) -> str:
    lines = [
        f"# Fault matrix (placement through the Celery task path; database: {vendor})",
        "",
        "mode `once`: the fault hits the first create only; `always`: every create.",
        "Expected: at most one accepted create per order, a named final state, a readable "
        "reason for every failure.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in RESULTS:
        lines.append("| " + " | ".join(str(row[c]).replace("|", "/") for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def fault_matrix_rows():
    return RESULTS


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if not RESULTS:
        return
    from django.db import connection

    text = matrix_markdown(connection.vendor)
    out = Path(settings.BASE_DIR) / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "fault-matrix.md").write_text(text)
    terminalreporter.write_sep("=", "fault matrix (also in test-artifacts/fault-matrix.md)")
    terminalreporter.write_line(text)
