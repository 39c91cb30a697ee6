"""The review branch at scale: N generated reviews through the real workflow and a
scikit-learn peer, on the same files, in the same run.

1. **Generate** N reviews (half positive, half negative) in the release's ``.review``
   format, in ``<work>/reviews/<domain>/{positive,negative}.review``. The text recombines
   real reviews of ``../shared/data/sentiment/sorted_data_acl``: every generated review
   takes the metadata lines (product, rating, date, reviewer, title...) of a real review of
   its polarity, a fresh ``unique_id``, and as many sentences as that review had, each
   drawn from the sentences of real reviews of its polarity, or with probability
   ``--flip`` (0.25) of the other polarity. A sentence then never identifies its label, so
   even a model that learns every sentence is right only when most sentences of a review
   agree with it (about 85%): accuracy is meaningful and grows with N. The raw lines are
   copied verbatim (entities and all), so the files have the release's quirks. Written in
   chunks of ``CHUNK`` reviews: memory does not grow with N, and 10^6 reviews (~1.3 GB)
   take about a minute.
2. **Workflow**: ``snakemake --cores 2`` with a config file that names that folder, that
   one domain and the one experiment ``reviews_large`` (conf/experiment/reviews_large.yaml),
   with ``text.hashing: BITS`` when ``--hashing BITS`` is given, results in
   ``<work>/results``; under ``/usr/bin/time -v`` (wall, user + system CPU of every process,
   peak RSS = the largest of any one process). Accuracy is the run's ``metrics.json``
   (held-out test split); the per-stage figures come from Snakemake's ``benchmark:`` files.
3. **Peer** (scikit-learn, one process, same timing): a regular expression extracts
   ``title`` and ``review_text`` (``html.unescape``d), ``HashingVectorizer`` (1+2-grams,
   2^20 columns, counts) then ``TfidfTransformer(sublinear_tf=True)`` fitted on the
   training part, ``LogisticRegression`` (lbfgs, C picked on the validation part from
   ``PEER_CS``, refitted on train), scored on the test part. The split is the workflow's:
   :func:`logreg.linear.model_selection.stratified_partition` of the labels in file order
   (positive file first) with the workflow's seed and fractions, which the workflow's own
   split stage calls; the script checks they agree when both ran.

Prints a Markdown table (N, wall, CPU, peak RSS, accuracy of each) and writes it with every
figure to ``<work>/review_scale.json`` and ``.md``. Same ``--seed``, same files and splits.

Usage (from the repository root, with the project's venv on the PATH)::

    export PATH=$PWD/.venv/bin:$PATH PYTHONPATH=$PWD/src
    python benchmarks/review_scale.py --n 10000 100000 --work /tmp/review-scale
    python benchmarks/review_scale.py --n 1000000 --skip-peer
    python benchmarks/review_scale.py --n 1000000 --hashing 20   # as the peer: 2^20 columns
    python benchmarks/review_scale.py --n 1000000 --only-peer
    python benchmarks/review_scale.py generate --n 2000 --out /tmp/reviews   # files only
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "sentiment" / "sorted_data_acl"
SOURCE_DOMAINS = ("electronics", "kitchen_&_housewares")
POLARITIES = ("positive", "negative")  # the workflow parses positive.review first
CHUNK = 20_000  # reviews generated and written at a time
SEED = 2013  # the workflow's default seed (conf/workflow/config.yaml)
TEST_FRACTION, VAL_FRACTION = 0.2, 0.1  # its default split
PEER_CS = (1.0, 10.0, 100.0)
PEER_BITS = 20

_REVIEW = re.compile(rb"<review>\n(.*?)\n</review>\n", re.S)
_FIELD = re.compile(rb"<(\w+)>\n(.*?)\n</\1>", re.S)
# A sentence ends with . ! or ? and the spaces or newlines after it.
_SENTENCE_END = re.compile(rb"(?<=[.!?])\s+")
_HEAD = (b"asin", b"product_name", b"product_type", b"helpful", b"rating")
_TAIL = (b"date", b"reviewer", b"reviewer_location")


# -- generation -------------------------------------------------------------------------
class Pool:
    """The raw material of one polarity: metadata blocks of real reviews, how many
    sentences each had, and every sentence of every review (raw bytes, entity-encoded)."""

    def __init__(self) -> None:
        self.blocks: list[tuple[bytes, bytes]] = []
        self.titles: list[bytes] = []
        self.n_sentences: list[int] = []
        self.sentences: list[bytes] = []


def read_pools(real_dir: Path, domains=SOURCE_DOMAINS) -> dict[str, Pool]:
    """Split the real reviews of ``domains`` into :class:`Pool` s, one per polarity."""
    pools = {polarity: Pool() for polarity in POLARITIES}
    for domain in domains:
        for polarity in POLARITIES:
            pool = pools[polarity]
            data = (real_dir / domain / f"{polarity}.review").read_bytes()
            for review in _REVIEW.finditer(data):
                fields = dict(_FIELD.findall(review.group(1)))
                sentences = [
                    s.strip() for s in _SENTENCE_END.split(fields[b"review_text"]) if s.strip()
                ]
                if not sentences:
                    continue
                # The lines between </unique_id> and <review_text>, verbatim, cut where
                # the title goes: titles are drawn on their own, like sentences.
                head, tail = (
                    b"".join(b"<%s>\n%s\n</%s>\n" % (name, fields[name], name) for name in names)
                    for names in (_HEAD, _TAIL)
                )
                pool.blocks.append((head, tail))
                pool.titles.append(fields[b"title"])
                pool.n_sentences.append(len(sentences))
                pool.sentences.extend(sentences)
    return pools


def generate(
    out_dir: Path,
    n: int,
    seed: int,
    domain: str = "large",
    flip: float = 0.25,
    real_dir: Path = REAL,
) -> list[Path]:
    """Write ``n`` reviews (``n // 2`` negative, the rest positive) to
    ``out_dir/<domain>/{positive,negative}.review``; return the two paths.

    Deterministic: the same ``(n, seed, flip)`` and real data give the same bytes. Each file
    is written to a temporary name and renamed, so a stopped run leaves no partial file.
    """
    if n < 2:
        raise ValueError(f"--n must be at least 2, got {n}")
    pools = read_pools(real_dir)
    rng = np.random.default_rng([seed, 21])
    folder = out_dir / domain
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"positive": n - n // 2, "negative": n // 2}
    sentences = {p: np.array(pools[p].sentences, dtype=object) for p in POLARITIES}
    titles = {p: np.array(pools[p].titles, dtype=object) for p in POLARITIES}
    paths, index = [], 0
    for polarity in POLARITIES:
        other_polarity = POLARITIES[1 - POLARITIES.index(polarity)]
        own, other = pools[polarity], pools[other_polarity]
        lengths = np.array(own.n_sentences)
        path = folder / f"{polarity}.review"
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as out:
            for start in range(0, counts[polarity], CHUNK):
                m = min(CHUNK, counts[polarity] - start)
                template = rng.integers(len(own.blocks), size=m)
                k = lengths[template]
                total = int(k.sum())
                flipped = rng.random(total) < flip
                text = np.where(
                    flipped,
                    sentences[other_polarity][rng.integers(len(other.sentences), size=total)],
                    sentences[polarity][rng.integers(len(own.sentences), size=total)],
                )
                title_flipped = rng.random(m) < flip
                title = np.where(
                    title_flipped,
                    titles[other_polarity][rng.integers(len(other.titles), size=m)],
                    titles[polarity][rng.integers(len(own.titles), size=m)],
                )
                ends = np.cumsum(k)
                parts = []
                for j in range(m):
                    head, tail = own.blocks[template[j]]
                    body = b" ".join(text[ends[j] - k[j] : ends[j]])
                    parts.append(
                        b"<review>\n<unique_id>\nSYN%010d:generated\n</unique_id>\n%s"
                        b"<title>\n%s\n</title>\n%s"
                        b"<review_text>\n%s\n</review_text>\n</review>\n"
                        % (index + start + j, head, title[j], tail, body)
                    )
                out.write(b"".join(parts))
        os.replace(tmp, path)
        index += counts[polarity]
        paths.append(path)
    return paths


# -- measuring a command ---------------------------------------------------------------
def timed(command: list[str], log: Path, cwd: Path = ROOT) -> dict[str, float]:
    """Run ``command`` under ``/usr/bin/time -v``; its wall, CPU (user + system of it and
    all its children) and peak RSS (MB, the largest single process). Fails with the log."""
    with open(log, "w") as stream:
        done = subprocess.run(
            ["/usr/bin/time", "-v", *command], cwd=cwd, stdout=stream, stderr=subprocess.STDOUT
        )
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} ... failed (exit {done.returncode}); see {log}")

    def field(name: str) -> str:
        return re.findall(rf"{re.escape(name)}: (.*)", text)[-1].strip()

    clock = [float(x) for x in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(x * 60**i for i, x in enumerate(reversed(clock)))
    return {
        "wall_s": wall,
        "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "peak_rss_mb": float(field("Maximum resident set size (kbytes)")) / 1024,
    }


# -- the workflow ------------------------------------------------------------------------
def run_workflow(
    reviews_dir: Path, domain: str, work: Path, seed: int, hashing: int | None = None
) -> dict:
    """The whole workflow for one domain and ``experiment=reviews_large``, timed
    (``hashing``: the workflow's ``text.hashing``, None for a vocabulary)."""
    results = work / "results"
    shutil.rmtree(results, ignore_errors=True)
    config = work / "workflow.yaml"
    config.write_text(
        json.dumps(
            {
                "reviews_dir": str(reviews_dir),
                "review_domains": [domain],
                "reviews_name": "scale",
                "results_dir": str(results),
                "seed": seed,
                "text": {"hashing": hashing},
                "experiments": [
                    {"name": "reviews_large", "overrides": ["experiment=reviews_large"]}
                ],
            }
        )
    )
    figures = timed(
        ["snakemake", "--cores", "2", "--configfile", str(config), "--quiet", "rules"],
        work / "workflow.log",
    )
    run = results / "runs" / "reviews_large" / "scale" / domain
    metrics = json.loads((run / "metrics.json").read_text())
    figures["accuracy"] = float(metrics["test_accuracy"])
    figures["l2"] = float(metrics["l2"])
    figures["solver"] = metrics["solver"]
    figures["fit_seconds"] = float(metrics["fit_seconds"])
    figures["run_seconds"] = float(metrics["run_seconds"])
    figures["stages"] = {}
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        head, values = tsv.read_text().splitlines()[:2]
        row = dict(zip(head.split("\t"), values.split("\t")))
        # Keyed by the file's path (rule/source/domain[/shard]): one entry per shard job.
        figures["stages"][str(tsv.relative_to(results / "benchmarks").with_suffix(""))] = {
            "wall_s": float(row["s"]),
            "cpu_s": float(row["cpu_time"]),
            "peak_rss_mb": float(row["max_rss"]) if row["max_rss"] != "NA" else None,
        }
    figures["split_file"] = str(results / "data" / "reviews" / "scale" / domain / "split.parquet")
    return figures


# -- the scikit-learn peer -----------------------------------------------------------------
def peer_split(labels: np.ndarray, seed: int) -> np.ndarray:
    """The workflow's split of labels in file order: ``"train"``, ``"val"`` or ``"test"``."""
    from logreg.linear.model_selection import stratified_partition

    rng = np.random.default_rng(seed)
    parts = stratified_partition(labels, [TEST_FRACTION, VAL_FRACTION], rng)
    return np.array(["test", "val", "train"])[parts]


def peer_texts(paths: list[Path]) -> tuple[list[str], np.ndarray]:
    """``title`` and ``review_text`` of every review (entities decoded), and its label."""
    pattern = re.compile(
        rb"<title>\n(.*?)\n</title>\n.*?<review_text>\n(.*?)\n</review_text>", re.S
    )
    texts, labels = [], []
    for path in paths:
        label = 1 if path.name == "positive.review" else 0
        data = path.read_bytes()
        before = len(texts)
        texts.extend(
            html.unescape((title + b" " + body).decode("utf-8", "replace"))
            for title, body in pattern.findall(data)
        )
        labels.extend([label] * (len(texts) - before))
        del data
    return texts, np.array(labels, dtype=np.int64)


def peer_main(args: argparse.Namespace) -> None:
    """Run in its own process (so /usr/bin/time measures it alone); writes a JSON file."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    folder = args.reviews_dir / args.domain
    texts, y = peer_texts([folder / "positive.review", folder / "negative.review"])
    split = peer_split(y, args.seed)
    vectorizer = HashingVectorizer(
        ngram_range=(1, 2), n_features=2**PEER_BITS, alternate_sign=False, norm=None
    )
    counts = vectorizer.transform(texts)
    del texts
    parts = {name: np.flatnonzero(split == name) for name in ("train", "val", "test")}
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts[parts["train"]])
    X = {name: tfidf.transform(counts[rows]) for name, rows in parts.items()}
    del counts
    best = None
    for c in PEER_CS:
        model = LogisticRegression(C=c, max_iter=1000).fit(X["train"], y[parts["train"]])
        score = float(np.mean(model.predict(X["val"]) == y[parts["val"]]))
        if best is None or score > best[0]:
            best = (score, c, model)
    score, c, model = best
    accuracy = float(np.mean(model.predict(X["test"]) == y[parts["test"]]))
    assert sp.issparse(X["train"])
    args.out.write_text(
        json.dumps({"accuracy": accuracy, "C": c, "val_accuracy": score, "split": split.tolist()})
    )


def run_peer(reviews_dir: Path, domain: str, work: Path, seed: int) -> dict:
    out = work / "peer.json"
    figures = timed(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "peer",
            "--reviews-dir",
            str(reviews_dir),
            "--domain",
            domain,
            "--seed",
            str(seed),
            "--out",
            str(out),
        ],
        work / "peer.log",
    )
    result = json.loads(out.read_text())
    figures.update(accuracy=result["accuracy"], C=result["C"])
    figures["split"] = np.array(result["split"])
    return figures


# -- the table ------------------------------------------------------------------------------
def table(rows: list[dict]) -> str:
    def cell(row: dict, who: str, key: str, fmt: str) -> str:
        value = row.get(who, {}).get(key)
        return "n/a" if value is None else format(value, fmt)

    lines = [
        "| N | raw MB | workflow wall s | CPU s | peak RSS MB | accuracy "
        "| scikit-learn wall s | CPU s | peak RSS MB | accuracy |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['n']:,} | {row['raw_mb']:.0f} | "
            + " | ".join(
                cell(row, who, key, fmt)
                for who in ("workflow", "peer")
                for key, fmt in (
                    ("wall_s", ".1f"),
                    ("cpu_s", ".1f"),
                    ("peak_rss_mb", ",.0f"),
                    ("accuracy", ".4f"),
                )
            )
            + " |"
        )
    return "\n".join(lines)


def bench_main(args: argparse.Namespace) -> None:
    work = args.work or Path(tempfile.mkdtemp(prefix="review-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.n:
        folder = work / f"n{n}"
        folder.mkdir(exist_ok=True)
        reviews = folder / "reviews"
        started = time.perf_counter()
        paths = generate(reviews, n, args.seed, args.domain, args.flip)
        row = {
            "n": n,
            "generate_s": time.perf_counter() - started,
            "raw_mb": sum(p.stat().st_size for p in paths) / 2**20,
        }
        print(f"N={n:,}: generated {row['raw_mb']:.0f} MB in {row['generate_s']:.1f} s", flush=True)
        if not args.only_peer:
            row["workflow"] = run_workflow(reviews, args.domain, folder, args.seed, args.hashing)
            print(f"  workflow: {row['workflow']}", flush=True)
        if not args.skip_peer:
            row["peer"] = run_peer(reviews, args.domain, folder, args.seed)
            split = row["peer"].pop("split")
            if "workflow" in row:
                import pandas as pd

                workflow_split = pd.read_parquet(row["workflow"]["split_file"])["split"]
                row["same_split"] = bool(np.array_equal(workflow_split.to_numpy(), split))
            print(f"  scikit-learn: {row['peer']}", flush=True)
        rows.append(row)
        if not args.keep:
            shutil.rmtree(reviews)
    report = table(rows)
    print(report)
    (work / "review_scale.json").write_text(json.dumps(rows, indent=2))
    (work / "review_scale.md").write_text(report + "\n")
    print(f"figures in {work}/review_scale.json", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    bench = argparse.ArgumentParser(
        description=parser.description, epilog="also: `generate --n N --out DIR` (files only)"
    )
    bench.add_argument("--n", type=int, nargs="+", default=[10_000], help="review counts")
    bench.add_argument("--seed", type=int, default=SEED)
    bench.add_argument("--domain", default="large", help="name of the generated domain folder")
    bench.add_argument("--flip", type=float, default=0.25, help="other-polarity sentence rate")
    bench.add_argument("--work", type=Path, help="working folder (default: a new temp folder)")
    bench.add_argument("--keep", action="store_true", help="keep the generated review files")
    bench.add_argument(
        "--hashing", type=int, metavar="BITS", help="the workflow's text.hashing (default: none)"
    )
    which = bench.add_mutually_exclusive_group()
    which.add_argument("--skip-peer", action="store_true", help="the workflow only")
    which.add_argument("--only-peer", action="store_true", help="the scikit-learn peer only")
    gen = commands.add_parser("generate", help="write the review files only")
    gen.add_argument("--n", type=int, required=True)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--seed", type=int, default=SEED)
    gen.add_argument("--domain", default="large")
    gen.add_argument("--flip", type=float, default=0.25)
    peer = commands.add_parser("peer", help="(internal) the scikit-learn pipeline, one process")
    peer.add_argument("--reviews-dir", type=Path, required=True)
    peer.add_argument("--domain", required=True)
    peer.add_argument("--seed", type=int, required=True)
    peer.add_argument("--out", type=Path, required=True)
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("generate", "peer"):
        args = parser.parse_args(argv)
        if args.command == "generate":
            paths = generate(args.out, args.n, args.seed, args.domain, args.flip)
            print("\n".join(map(str, paths)))
        else:
            peer_main(args)
    else:
        bench_main(bench.parse_args(argv))


if __name__ == "__main__":
    main()
