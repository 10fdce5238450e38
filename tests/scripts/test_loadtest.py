"""scripts/tools/loadtest.py's report: what it prints for the runs it made (the benchmark itself is not run here)."""

import pytest

from scripts.tools import loadtest


def test_it_reports_the_cold_job_and_the_median_of_the_warm_ones():
    line = loadtest.latency_summary([9.0, 2.0, 4.0, 3.0])

    assert "first job (fresh worker) 9.00 s" in line
    assert "then median 3.00 s (min 2.00, max 4.00, 3 runs)" in line


def test_it_reports_only_the_cold_job_with_no_latency_runs():
    line = loadtest.latency_summary([9.0])

    assert line.endswith("first job (fresh worker) 9.00 s; no warm runs (--latency-runs 0)")


def test_it_refuses_a_negative_number_of_latency_runs(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["loadtest.py", "--latency-runs", "-1"])

    with pytest.raises(SystemExit) as exited:
        loadtest.main()

    assert exited.value.code == 2
    assert "must be 0 or more" in capsys.readouterr().err


def test_it_reports_where_the_first_jobs_time_went_beside_the_warm_median():
    line = loadtest.stages_summary([{"web": 0.5, "queue": 1.0, "colorize": 2.0},
                                    {"web": 0.1, "queue": 0.1, "colorize": 0.3},
                                    {"web": 0.2, "queue": 0.1, "colorize": 0.5}])

    assert line == ("where the time went: first job web 0.50 s, queue 1.00 s, colorize 2.00 s; "
                    "warm median web 0.15 s, queue 0.10 s, colorize 0.40 s")
