# Reviews (Multi-Domain Sentiment Dataset): raw .review files -> prepared sparse vectors.
#
#   demo_reviews | download_reviews -> parse_reviews_shard (x K) -> parse_reviews (merge)
#       -> split_reviews -> count_terms_shard (x K) -> build_vocabulary (merge)
#       -> vectorize_reviews_shard (x K) -> vectorize_reviews (gather)
#       -> results/data/reviews/<source>/<domain>/prepared
#   with text.hashing: split_reviews -> hash_reviews_shard (x K) -> vectorize_reviews
#
# Every step is one `python -m logreg.data.reviews <stage>` call; values reach it only
# through params and every path is shell-quoted, since domain names may contain '&'.
# <source> names the review folder (common.smk): demo results and real results never
# share a folder. demo_reviews runs only when reviews_dir is the demo folder (the
# default); download_reviews only when asked for: `snakemake --cores 1 download_reviews`,
# then --config reviews_dir=data/download/sorted_data_acl.
#
# A domain is parsed, counted and vectorized in K shards (K = its bytes / reviews.shard_mb,
# at least 1; logreg.data.reviews.shards), one job each, so the shards run in parallel
# (one SLURM job each under a cluster profile). The merges are exact: the same table,
# vocabulary and vectors as one pass. The per-shard files are temporary. A domain of one
# shard (the demo and the real ones) has no shard jobs: the merge jobs do the work.

REVIEWS_URL = "https://www.cs.jhu.edu/~mdredze/datasets/sentiment/domain_sentiment_data.tar.gz"


rule demo_reviews:
    output:
        positive=f"{DEMO_REVIEWS_DIR}/{{domain}}/positive.review",
        negative=f"{DEMO_REVIEWS_DIR}/{{domain}}/negative.review",
    params:
        out_dir=get_reviews_root,
        seed=config["seed"],
        n_per_file=150,
        code=CODE["demo_reviews"],
    log:
        f"{LOGS}/demo_reviews/{{domain}}.log",
    shell:
        "python -m logreg.data.reviews demo --out-dir {params.out_dir:q}"
        " --domains {wildcards.domain:q} --seed {params.seed:q}"
        " --n-per-file {params.n_per_file:q} 2> {log:q}"


rule download_reviews:
    output:
        reviews=expand(
            f"{DOWNLOAD_REVIEWS_DIR}/{{domain}}/{{polarity}}.review",
            domain=DOMAINS,
            polarity=["positive", "negative"],
        ),
    params:
        url=REVIEWS_URL,
        out_dir=get_reviews_root,
        domains=DOMAINS,
    log:
        f"{LOGS}/download_reviews.log",
    shell:
        "python -m logreg.data.reviews download --url {params.url:q}"
        " --out-dir {params.out_dir:q} --domains {params.domains:q} 2> {log:q}"


rule parse_reviews_shard:
    input:
        positive=f"{REVIEWS_DIR}/{{domain}}/positive.review",
        negative=f"{REVIEWS_DIR}/{{domain}}/negative.review",
    output:
        table=temp(f"{REVIEWS_RESULTS}/{{domain}}/shards/{{shard}}/reviews.parquet"),
    params:
        code=CODE["reviews"],
        n_shards=get_review_shard_count,
    log:
        f"{LOGS}/parse_reviews_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/parse_reviews_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.tsv"
    shell:
        "python -m logreg.data.reviews parse-shard {input.positive:q} {input.negative:q}"
        " --shard {wildcards.shard:q} --n-shards {params.n_shards:q}"
        " --out {output.table:q} 2> {log:q}"


rule parse_reviews:
    input:
        positive=f"{REVIEWS_DIR}/{{domain}}/positive.review",
        negative=f"{REVIEWS_DIR}/{{domain}}/negative.review",
        shards=get_review_shard_tables,
    output:
        table=f"{REVIEWS_RESULTS}/{{domain}}/reviews.parquet",
    params:
        code=CODE["reviews"],
    log:
        f"{LOGS}/parse_reviews/{REVIEW_SOURCE}/{{domain}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/parse_reviews/{REVIEW_SOURCE}/{{domain}}.tsv"
    shell:
        "python -m logreg.data.reviews merge-reviews {input.positive:q} {input.negative:q}"
        " --shards {input.shards:q} --out {output.table:q} 2> {log:q}"


rule split_reviews:
    input:
        table=rules.parse_reviews.output.table,
    output:
        split=f"{REVIEWS_RESULTS}/{{domain}}/split.parquet",
    params:
        code=CODE["reviews"],
        test_fraction=config["split"]["test_fraction"],
        val_fraction=config["split"]["val_fraction"],
        seed=config["seed"],
    log:
        f"{LOGS}/split_reviews/{REVIEW_SOURCE}/{{domain}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/split_reviews/{REVIEW_SOURCE}/{{domain}}.tsv"
    shell:
        "python -m logreg.data.reviews split --reviews {input.table:q} --out {output.split:q}"
        " --test-fraction {params.test_fraction:q} --val-fraction {params.val_fraction:q}"
        " --seed {params.seed:q} 2> {log:q}"


if config["text"]["hashing"] is None:

    rule count_terms_shard:
        input:
            table=rules.parse_reviews.output.table,
            split=rules.split_reviews.output.split,
        output:
            counts=temp(f"{REVIEWS_RESULTS}/{{domain}}/shards/{{shard}}/counts.parquet"),
        params:
            code=CODE["reviews"],
            stopwords=config["text"]["stopwords"],
            bigrams=config["text"]["bigrams"],
            fields=",".join(config["text"]["fields"]),
            hashing=config["text"]["hashing"],
        log:
            f"{LOGS}/count_terms_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/count_terms_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.tsv"
        shell:
            "python -m logreg.data.reviews count-terms --reviews {input.table:q}"
            " --shard {wildcards.shard:q} --split {input.split:q} --out {output.counts:q}"
            " --stopwords {params.stopwords:q} --bigrams {params.bigrams:q}"
            " --fields {params.fields:q} --hashing {params.hashing:q} 2> {log:q}"


    rule build_vocabulary:
        input:
            counts=get_review_shard_counts,
            table=rules.parse_reviews.output.table,
            split=rules.split_reviews.output.split,
        output:
            vocabulary=f"{REVIEWS_RESULTS}/{{domain}}/{VOCABULARY_FILE}",
        params:
            code=CODE["reviews"],
            stopwords=config["text"]["stopwords"],
            bigrams=config["text"]["bigrams"],
            min_count=config["text"]["min_count"],
            max_size=config["text"]["max_size"],
            fields=",".join(config["text"]["fields"]),
            hashing=config["text"]["hashing"],
        log:
            f"{LOGS}/build_vocabulary/{REVIEW_SOURCE}/{{domain}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/build_vocabulary/{REVIEW_SOURCE}/{{domain}}.tsv"
        shell:
            "python -m logreg.data.reviews merge-counts --counts {input.counts:q}"
            " --reviews {input.table:q} --split {input.split:q} --out {output.vocabulary:q}"
            " --stopwords {params.stopwords:q} --bigrams {params.bigrams:q}"
            " --min-count {params.min_count:q} --max-size {params.max_size:q}"
            " --fields {params.fields:q} --hashing {params.hashing:q} 2> {log:q}"


    rule vectorize_reviews_shard:
        input:
            table=rules.parse_reviews.output.table,
            split=rules.split_reviews.output.split,
            vocabulary=rules.build_vocabulary.output.vocabulary,
        output:
            vectors=temp(directory(f"{REVIEWS_RESULTS}/{{domain}}/shards/{{shard}}/vectors")),
        params:
            code=CODE["reviews"],
            text=get_text_options,
        log:
            f"{LOGS}/vectorize_reviews_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/vectorize_reviews_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.tsv"
        shell:
            "python -m logreg.data.reviews vectorize-shard --reviews {input.table:q}"
            " --shard {wildcards.shard:q} --split {input.split:q}"
            " --vocabulary {input.vocabulary:q} --out-dir {output.vectors:q}"
            " {params.text:q} 2> {log:q}"


    rule vectorize_reviews:
        input:
            parts=get_review_shard_vectors,
            table=rules.parse_reviews.output.table,
            split=rules.split_reviews.output.split,
            vocabulary=rules.build_vocabulary.output.vocabulary,
        output:
            prepared=directory(f"{REVIEWS_RESULTS}/{{domain}}/prepared"),
        params:
            code=CODE["reviews"],
            text=get_text_options,
        log:
            f"{LOGS}/vectorize_reviews/{REVIEW_SOURCE}/{{domain}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/vectorize_reviews/{REVIEW_SOURCE}/{{domain}}.tsv"
        shell:
            "python -m logreg.data.reviews gather-vectors --parts {input.parts:q}"
            " --reviews {input.table:q} --split {input.split:q}"
            " --vocabulary {input.vocabulary:q} --out-dir {output.prepared:q}"
            " --domain {wildcards.domain:q} {params.text:q} 2> {log:q}"

else:
    # text.hashing: no vocabulary. Each shard is tokenized and hashed once (its raw term
    # counts per split and its training reviews' per-column counts); the merge adds the
    # counts, weights the rows and writes the prepared folder a block of rows at a time.

    rule hash_reviews_shard:
        input:
            table=rules.parse_reviews.output.table,
            split=rules.split_reviews.output.split,
        output:
            hashed=temp(directory(f"{REVIEWS_RESULTS}/{{domain}}/shards/{{shard}}/hashed")),
        params:
            code=CODE["reviews"],
            text=get_tokenizer_options,
        log:
            f"{LOGS}/hash_reviews_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/hash_reviews_shard/{REVIEW_SOURCE}/{{domain}}/{{shard}}.tsv"
        shell:
            "python -m logreg.data.reviews hash-shard --reviews {input.table:q}"
            " --shard {wildcards.shard:q} --split {input.split:q}"
            " --out-dir {output.hashed:q} {params.text:q} 2> {log:q}"

    rule vectorize_reviews:
        input:
            parts=get_review_shard_hashed,
            table=rules.parse_reviews.output.table,
            split=rules.split_reviews.output.split,
        output:
            prepared=directory(f"{REVIEWS_RESULTS}/{{domain}}/prepared"),
        params:
            code=CODE["reviews"],
            text=get_text_options,
        log:
            f"{LOGS}/vectorize_reviews/{REVIEW_SOURCE}/{{domain}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/vectorize_reviews/{REVIEW_SOURCE}/{{domain}}.tsv"
        shell:
            "python -m logreg.data.reviews merge-hashed --parts {input.parts:q}"
            " --reviews {input.table:q} --split {input.split:q}"
            " --out-dir {output.prepared:q} --domain {wildcards.domain:q}"
            " {params.text:q} 2> {log:q}"
