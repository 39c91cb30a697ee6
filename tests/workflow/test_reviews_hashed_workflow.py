"""The workflow with text.hashing: shard jobs and one merge, the folder of a single job."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from commands import snakemake
from logreg.data.prepared import SPLITS
from logreg.data.reviews.shards import shard_count
from paths import REPO

DOMAIN = "electronics"


def hashed_config(path: Path, shard_mb: float | None) -> Path:
    config = yaml.safe_load((REPO / "conf" / "workflow" / "config.yaml").read_text())
    config["text"]["hashing"] = 12
    config["reviews"]["shard_mb"] = shard_mb
    config["review_domains"] = [DOMAIN]
    config["experiments"] = [{"name": "reviews", "overrides": ["experiment=reviews"]}]
    path.write_text(yaml.safe_dump(config))
    return path


def prepared(results: str) -> str:
    return f"{results}/data/reviews/demo/{DOMAIN}/prepared"


@pytest.mark.slow
def test_hashed_shards_give_the_prepared_folder_of_one_job(tmp_path):
    one = snakemake(tmp_path, prepared("results"), "--configfile",
                    str(hashed_config(tmp_path / "one.yaml", None)))  # fmt: skip
    assert one.returncode == 0, one.stderr[-4000:]
    files = [tmp_path / "data/demo/sorted_data_acl" / DOMAIN / f"{p}.review"
             for p in ("positive", "negative")]  # fmt: skip
    shard_mb = sum(f.stat().st_size for f in files) / 3 / 2**20
    assert shard_count(files, shard_mb) == 3
    config = hashed_config(tmp_path / "three.yaml", shard_mb)
    three = snakemake(tmp_path, prepared("results3"), "--configfile", str(config),
                      "--config", "results_dir=results3")  # fmt: skip
    assert three.returncode == 0, three.stderr[-4000:]
    # One pass per shard: no count or vocabulary job; the shards' folders are temporary.
    benchmarks = tmp_path / "results3" / "benchmarks"
    assert sorted(p.name for p in benchmarks.iterdir()) == sorted(
        [
            "parse_reviews_shard",
            "parse_reviews",
            "split_reviews",
            "hash_reviews_shard",
            "vectorize_reviews",
        ]  # fmt: skip
    )
    assert len(list((benchmarks / "hash_reviews_shard").rglob("*.tsv"))) == 3
    assert not (tmp_path / "results3/data/reviews/demo" / DOMAIN / "shards").exists()
    a, b = Path(tmp_path / prepared("results")), Path(tmp_path / prepared("results3"))
    for name in SPLITS:
        X, Y = sp.load_npz(a / f"X_{name}.npz"), sp.load_npz(b / f"X_{name}.npz")
        assert X.shape[1] == 2**12 and X.nnz > 0
        for part in ("indptr", "indices", "data"):
            assert getattr(X, part).tobytes() == getattr(Y, part).tobytes(), part
        assert np.array_equal(np.load(a / f"y_{name}.npy"), np.load(b / f"y_{name}.npy"))
    meta_a, meta_b = (json.loads((d / "meta.json").read_text()) for d in (a, b))
    assert meta_a["text"]["hashing"] == 12
    del meta_a["feature_names"], meta_b["feature_names"]
    assert meta_a == meta_b
    shutil.rmtree(tmp_path / "results3")
