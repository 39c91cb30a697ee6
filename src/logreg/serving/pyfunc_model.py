"""The MLflow model every run logs: raw input in, label and class probabilities out.

The model carries its preprocessing, so users never rebuild features by hand:

* reviews: a DataFrame with a ``text`` column of raw review text (tokenized and weighted
  by the run's saved :class:`~logreg.data.reviews.vectorize.Vectorizer`);
* faces: a DataFrame with a ``pixels`` column holding FER2013 pixel strings (2,304
  space-separated integers) or 48x48 arrays, normalized with the training statistics;
* other data (the Gaussian clouds): one numeric column per feature.

``predict`` returns a DataFrame with ``label`` and one ``proba_<class>`` column per class.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
from mlflow.pyfunc import PythonModel  # noqa: E402

from logreg.linear.loss import make_loss  # noqa: E402
from logreg.serving import artifact_store  # noqa: E402

PIXELS_COLUMN, TEXT_COLUMN = "pixels", "text"


def class_probabilities(raw: np.ndarray) -> np.ndarray:
    """Probabilities of shape (n, K) from scores (n, 1) or (n, K), with the estimators' own
    stable sigmoid and softmax (:mod:`logreg.linear.loss`)."""
    if raw.shape[1] == 1:
        positive = make_loss(2, multinomial=False).predict_proba(raw)
        return np.hstack([1.0 - positive, positive])
    return make_loss(raw.shape[1], multinomial=True).predict_proba(raw)


class LinearClassifierModel(PythonModel):
    """A fitted linear model plus the preprocessing of its training data."""

    def load_context(self, context) -> None:
        with np.load(context.artifacts["model"], allow_pickle=False) as saved:
            self.coef = saved["coef"]
            self.intercept = saved["intercept"]
            self.class_names = [str(c) for c in saved["class_names"]]
            self.threshold = float(saved["threshold"])
        self.vectorizer = self.stats = None
        if "vectorizer" in context.artifacts:
            from logreg.data.reviews.vectorize import Vectorizer

            self.vectorizer = Vectorizer.load(context.artifacts["vectorizer"])
        if "normalization" in context.artifacts:
            from logreg.data.faces import load_stats

            self.stats = load_stats(context.artifacts["normalization"])

    def _features(self, frame: pd.DataFrame):
        if self.vectorizer is not None:
            return self.vectorizer.transform(frame[TEXT_COLUMN].astype(str).tolist())
        if self.stats is not None:
            from logreg.data.faces import normalize, parse_pixel_string
            from logreg.data.faces.fer_format import check_pixel_array
            from logreg.errors import DataError

            images = []
            for row, value in enumerate(frame[PIXELS_COLUMN]):
                try:
                    images.append(
                        parse_pixel_string(value)
                        if isinstance(value, (str, bytes))
                        else check_pixel_array(value)
                    )
                except DataError as exc:
                    raise DataError(f"input row {row}: {exc}") from None
            return normalize(np.vstack(images), self.stats)
        return frame.to_numpy(dtype=np.float64)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        raw = np.asarray(self._features(frame) @ self.coef.T) + self.intercept
        proba = class_probabilities(raw)
        if len(self.class_names) == 2 and np.isfinite(self.threshold):
            picked = (proba[:, 1] >= self.threshold).astype(int)
        else:
            picked = proba.argmax(axis=1)
        out = pd.DataFrame({"label": [self.class_names[k] for k in picked]})
        for k, name in enumerate(self.class_names):
            out[f"proba_{name}"] = proba[:, k]
        return out


def model_inputs(
    kind: str, dataset_path: str | None, feature_names: list[str] | None
) -> tuple[dict[str, str], pd.DataFrame]:
    """The preprocessing artifacts and an input example for a dataset kind."""
    if kind == "reviews":
        example = pd.DataFrame(
            {
                TEXT_COLUMN: [
                    "Great sound, easy to set up. Love it!",
                    "Broke after a week, a waste of money.",
                ]
            }
        )
        return {"vectorizer": str(Path(dataset_path) / "vectorizer.json")}, example
    if kind == "faces":
        flat = np.tile(np.arange(48, dtype=np.uint8) * 5, 48)
        example = pd.DataFrame({PIXELS_COLUMN: [" ".join(map(str, flat))]})
        return {"normalization": str(Path(dataset_path) / "normalization.npz")}, example
    return {}, pd.DataFrame([np.zeros(len(feature_names))], columns=feature_names)


def log_model(
    run_id: str,
    tracking_uri: str,
    run_dir: Path,
    kind: str,
    dataset_path: str | None,
    feature_names: list[str] | None,
) -> str:
    """Log the run's pyfunc model (with signature and input example); return its URI."""
    artifacts, example = model_inputs(kind, dataset_path, feature_names)
    artifacts["model"] = str(run_dir / "model.npz")
    # The model's MLmodel file records where each artifact was copied from: relative to the
    # working folder (the clone), so a moved results folder names no old absolute path.
    artifacts = {name: _relative_to_cwd(path) for name, path in artifacts.items()}
    # A throwaway instance computes the example output; a fresh one is pickled, so the
    # logged model holds no state but what load_context reads from its artifacts.
    probe = LinearClassifierModel()
    context = type("Context", (), {"artifacts": artifacts})()
    probe.load_context(context)
    output = probe.predict(context, example)
    signature = mlflow.models.infer_signature(example, output)
    artifact_store.register()
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=LinearClassifierModel(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(),
            # MLflow would tag the model with the absolute path of the running script.
            tags={"mlflow.source.name": "python -m logreg.train", "mlflow.source.type": "LOCAL"},
        )
        mlflow.set_tag("model_uri", info.model_uri)
    return info.model_uri


def _relative_to_cwd(path: str) -> str:
    """``path`` relative to the working folder when it lies inside it, else as given."""
    absolute, cwd = Path(path).absolute(), Path.cwd()
    return str(absolute.relative_to(cwd)) if absolute.is_relative_to(cwd) else path


def _requirements() -> list[str]:
    from logreg.provenance import package_versions

    versions = package_versions()
    return [
        f"{name}=={versions[name]}"
        for name in ("numpy", "scipy", "pandas", "mlflow")
        if versions[name] != "not installed"
    ]
