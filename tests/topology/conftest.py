"""The topology test's timings, printed at the end of the run and written to
``test-artifacts/topology.md``."""

from __future__ import annotations

from pathlib import Path

import pytest

TIMINGS: dict[str, float] = {}
NOTES: list[str] = []


@pytest.fixture(scope="session")
def topology_timings() -> dict[str, float]:
    return TIMINGS


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if not TIMINGS:
        return
    lines = ["| step | seconds |", "|---|---|"]
    lines += [f"| {step} | {seconds:.1f} |" for step, seconds in TIMINGS.items()]
    text = "# Production topology test (timings)\n\n" + "\n".join([*lines, "", *NOTES]) + "\n"
    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "topology.md").write_text(text)
    terminalreporter.write_sep("=", "topology timings (also in test-artifacts/topology.md)")
    terminalreporter.write_line(text)
