"""Helpers of bench/ (the benchmarks themselves are not tests): ports from the given range."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import _common


def test_free_port_takes_the_first_free_port_of_bench_ports(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        monkeypatch.setenv("BENCH_PORTS", f"{port}-{port + 1}")
        try:
            assert _common.free_port() == port + 1
        except RuntimeError:  # port + 1 happens to be taken too
            pytest.skip("both ports taken")
        monkeypatch.setenv("BENCH_PORTS", f"{port}-{port}")
        with pytest.raises(RuntimeError, match="no free port"):
            _common.free_port()


def test_free_port_without_a_range_is_any_free_port(monkeypatch):
    monkeypatch.delenv("BENCH_PORTS", raising=False)
    assert _common.free_port() > 0
