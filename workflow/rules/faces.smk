# FER2013 faces: raw CSV / CSV.gz / image folders -> validated, split, featurized,
# normalized arrays, one prepared folder per feature kind (what dataset.features picks):
#
#   demo_faces (default input only) -> prepare_faces -> results/faces/{pixels,hog,kmeans,hog+kmeans}
#
# fer2013_path picks the input; the format is detected from it:
#   --config fer2013_path=../shared/data/fer2013/fer2013.csv.gz   # Kaggle CSV, gzipped
#   --config fer2013_path=/data/fer2013      # image folders: <root>/{train,test}/<emotion>/
# demo_faces only runs when fer2013_path is the demo file (the default).

from logreg.data.faces.features import FEATURES, feature_parts, normalization_for
from logreg.data.faces.hog import HogParams
from logreg.data.faces.kmeans import KmeansParams

FACES_RESULTS = f"{RESULTS}/faces"
DEMO_FER2013 = "data/demo/fer2013.csv"
# A file or a folder: either is a plain input path (directory() is for outputs only).
FER2013_SOURCE = config["fer2013_path"]
try:
    # The schema checks each number; whether they fit together is checked here, at start-up.
    HOG = HogParams(**config["faces"]["hog"])
except ValueError as exc:
    raise ValueError(f"workflow config key faces.hog: {exc}") from None
try:
    KMEANS = KmeansParams(**config["faces"]["kmeans"])
except ValueError as exc:
    # The message starts with the parameter's name: faces.kmeans.<name>.
    raise ValueError(f"workflow config key faces.kmeans.{exc}") from None


wildcard_constraints:
    features="|".join(map(re.escape, FEATURES)),


def get_face_normalization(wildcards):
    # One table says which features take which normalization (logreg.data.faces.features).
    return normalization_for(wildcards.features, config["faces"]["normalization"])


def get_feature_options(wildcards):
    # Only the jobs of those features get them, so changing faces.hog does not rerun the
    # k-means branch, nor faces.kmeans the HOG one.
    parts = feature_parts(wildcards.features)
    options = []
    if "hog" in parts:
        options += ["--hog-cell-size", HOG.cell_size, "--hog-orientations", HOG.orientations,
                    "--hog-block-size", HOG.block_size]
    if "kmeans" in parts:
        for name, value in KMEANS.to_dict().items():
            options += [f"--kmeans-{name.replace('_', '-')}", value]
    return options


rule demo_faces:
    output:
        csv=DEMO_FER2013,
    params:
        n_rows=1400,
        seed=config["seed"],
    log:
        f"{LOGS}/demo_faces.log",
    shell:
        "{PYTHON:q} -m logreg.data.faces demo --out {output.csv:q}"
        " --n-rows {params.n_rows:q} --seed {params.seed:q} 2> {log:q}"


rule prepare_faces:
    input:
        source=FER2013_SOURCE,
    output:
        prepared=directory(f"{FACES_RESULTS}/{{features}}"),
    params:
        normalization=get_face_normalization,
        feature_options=get_feature_options,
        skip_flag="--skip-bad-rows" if config["faces"]["skip_bad_rows"] else "",
        val_fraction=config["faces"]["val_fraction"],
        seed=config["seed"],
    threads: 2  # k-means features: one encoding thread per core
    log:
        f"{LOGS}/prepare_faces_{{features}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/prepare_faces_{{features}}.tsv"
    shell:
        "{PYTHON:q} -m logreg.data.faces prepare --input {input.source:q}"
        " --out-dir {output.prepared:q} --normalization {params.normalization:q}"
        " --features {wildcards.features:q} {params.feature_options:q} --threads {threads}"
        " {params.skip_flag} --val-fraction {params.val_fraction:q}"
        " --seed {params.seed:q} 2> {log:q}"
