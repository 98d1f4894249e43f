"""A smoke run of bench/media.py on two small photos (the real benchmark is not a test)."""

from bench import media as media_bench


def test_bench_runs_and_reports_a_ratio(capsys):
    figures = media_bench.run(images=2, size=(640, 480))

    assert figures["bare_thumbnails_per_second"] > 0
    assert figures["pipeline_thumbnails_per_second"] > 0
    assert figures["ratio"] > 0
    assert "ratio pipeline/bare" in capsys.readouterr().out
