"""The pure parts of `make bench` (bench/report.py): the table it prints and the duplicate count."""

import importlib.util
import math
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "bench_report", Path(__file__).resolve().parents[2] / "bench" / "report.py"
)
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def test_markdown_table_marks_met_missed_and_untargeted_rows():
    table = report.markdown_table(
        [
            report.Row("seed", "< 300 s", "140 s", True),
            report.Row("drain", "≥ 200 emails/s", "80 emails/s", False),
            report.Row("memory | gunicorn", "—", "90 MB", None),
        ]
    )

    assert table == (
        "| what | target | measured | met? |\n"
        "| --- | --- | --- | --- |\n"
        "| seed | < 300 s | 140 s | yes |\n"
        "| drain | ≥ 200 emails/s | 80 emails/s | **no** |\n"
        "| memory \\| gunicorn | — | 90 MB | — |\n"
    )


def test_count_deliveries_finds_duplicates_and_missing_and_ignores_other_mail():
    expected = {"<tack-1@x>", "<tack-2@x>", "<tack-3@x>"}
    received = ["<tack-1@x>", "<tack-2@x>", "<tack-1@x>", "<tack-1@x>", "<tack-99@x>", "-"]

    assert report.count_deliveries(received, expected) == report.Deliveries(
        expected=3, received=2, duplicates=2, missing=1
    )


def test_count_deliveries_all_once_is_clean():
    ids = {f"<tack-{n}@x>" for n in range(100)}

    assert report.count_deliveries(sorted(ids), ids) == report.Deliveries(
        expected=100, received=100, duplicates=0, missing=0
    )


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 101)]

    assert (report.percentile(values, 0.5), report.percentile(values, 0.99)) == (50.0, 99.0)
    assert report.percentile([3.0], 0.99) == 3.0
    assert math.isnan(report.percentile([], 0.5))
