"""Group ``shots``: the README's shots table in one run — training executions (circuits × shots) to first reach
85 % exact test accuracy on the ten-digit recipe, per seed, for plain shift and each estimator at 10 / 100 /
1000 shots (``bench/shots.py``; ~60 training runs, two at a time: ~15-20 minutes on 2 cores)."""

from __future__ import annotations


import shots


def test_shots_table(benchmark, smoke, tmp_path_factory):
    root = tmp_path_factory.mktemp("shots")
    if smoke:  # one tiny run per estimator: the code path, not the numbers
        options = dict(shots=(10,), seeds=(0,), epochs=1, extra=["--train-per-class", "4", "--test-per-class", "2", "--eval-every", "2"])
    else:
        options = {}
    benchmark.group = "shots"
    rows = benchmark.pedantic(lambda: shots.measure(root, **options), rounds=1, warmup_rounds=0)
    benchmark.extra_info.update(system="shots-table", batch=16, samples=len(rows), rows=rows)
    assert len(rows) == len(shots.ESTIMATORS) * len(options.get("shots", shots.SHOTS)) * len(options.get("seeds", shots.SEEDS))
    assert all(row["train_executions"] > 0 for row in rows)
