"""Long steps leave progress lines in a log when stderr is not a terminal (``make quickstart > log``)."""

from __future__ import annotations

from lingotune.core.progress import progress_bar


def test_a_redirected_bar_prints_plain_lines_every_tenth_and_at_the_end(monkeypatch, capsys):
    monkeypatch.delenv("LINGOTUNE_QUIET", raising=False)
    with progress_bar() as bar:
        task = bar.add_task("Generating fidelity_es", total=40)
        for _ in range(37):
            bar.advance(task)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Generating fidelity_es: ")]
    assert 9 <= len(lines) <= 11  # every 10 %, plus the last state when the bar stops
    assert lines[0].startswith("Generating fidelity_es: 4/40 (10 %)")
    assert lines[-1].startswith("Generating fidelity_es: 37/40 (92 %)")


def test_quiet_prints_nothing(monkeypatch, capsys):
    monkeypatch.setenv("LINGOTUNE_QUIET", "1")
    with progress_bar() as bar:
        task = bar.add_task("Tokenising", total=10)
        for _ in range(10):
            bar.advance(task)
    assert "Tokenising" not in capsys.readouterr().err
