# FER2013 faces: raw CSV / CSV.gz / image folders -> parsed once into a memory-mappable
# image store -> one prepared folder per feature spec (what dataset.features picks):
#
#   demo_faces (demo source only) -> parse_faces -> results/data/faces/<source>/images
#       -> prepare_faces -> results/data/faces/<source>/{pixels,hog,kmeans,hog+kmeans,...}
#
# fer2013_path picks the input; the format is detected from it:
#   --config fer2013_path=../shared/data/fer2013/fer2013.csv.gz   # Kaggle CSV, gzipped
#   --config fer2013_path=/data/fer2013      # image folders: <root>/{train,test}/<emotion>/
# demo_faces only runs when fer2013_path is the demo file (the default). Only parse_faces
# reads the source; every prepare_faces job reads the image store.


rule demo_faces:
    output:
        csv=DEMO_FER2013,
    params:
        n_rows=1400,
        seed=config["seed"],
        code=CODE["demo_faces"],
    log:
        f"{LOGS}/demo_faces.log",
    shell:
        "python -m logreg.data.faces demo --out {output.csv:q}"
        " --n-rows {params.n_rows:q} --seed {params.seed:q} 2> {log:q}"


rule parse_faces:
    input:
        source=FER2013_SOURCE,
    output:
        images=directory(f"{FACES_RESULTS}/images"),
    params:
        code=CODE["parse_faces"],
        skip_flag="--skip-bad-rows" if config["faces"]["skip_bad_rows"] else "",
        val_fraction=config["faces"]["val_fraction"],
        seed=config["seed"],
    log:
        f"{LOGS}/parse_faces/{FACE_SOURCE}.log",
    benchmark:
        f"{RESULTS}/benchmarks/parse_faces/{FACE_SOURCE}.tsv"
    shell:
        "python -m logreg.data.faces parse --input {input.source:q}"
        " --out-dir {output.images:q} {params.skip_flag}"
        " --val-fraction {params.val_fraction:q} --seed {params.seed:q} 2> {log:q}"


rule prepare_faces:
    input:
        images=rules.parse_faces.output.images,
    output:
        prepared=directory(f"{FACES_RESULTS}/{{features}}"),
    params:
        normalization=get_face_normalization,
        code=CODE["faces"],
        feature_options=get_feature_options,
    threads: get_prepare_threads
    priority: get_prepare_priority
    log:
        f"{LOGS}/prepare_faces/{FACE_SOURCE}/{{features}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/prepare_faces/{FACE_SOURCE}/{{features}}.tsv"
    shell:
        "python -m logreg.data.faces prepare --input {input.images:q}"
        " --out-dir {output.prepared:q} --normalization {params.normalization:q}"
        " --features {wildcards.features:q} {params.feature_options:q} --threads {threads}"
        " 2> {log:q}"
