"""Closed-set classification by a stage-one run's own head, on photos of fish it was trained on.

The head is restored from the run's checkpoint; ArcHead scores classes by
its scaled cosines without the training margin (the margin only makes
training harder). Per-class precision, recall, F1 and support, and the
confusion matrix, as in Fishial's report.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.metrics import classification_report, confusion_matrix  # noqa: E402

from lateral.atomic_write import write_atomically  # noqa: E402
from lateral.data.pipeline import evaluation_dataset  # noqa: E402
from lateral.data.records import DatasetError, class_names  # noqa: E402
from lateral.models.embedding import embedding_model_for  # noqa: E402
from lateral.models.heads import ArcHead, head_for, training_model  # noqa: E402
from lateral.runs import CHECKPOINT_FOLDER, CONFIG_SNAPSHOT, read_config, read_label_map  # noqa: E402


def restore_classifier(run_folder):
    """(embedding model, head, label map, config) of a stage-one run, from its latest checkpoint."""
    run_folder = Path(run_folder)
    checkpoint = tf.train.latest_checkpoint(str(run_folder / CHECKPOINT_FOLDER))
    if checkpoint is None or not (run_folder / CONFIG_SNAPSHOT).exists():
        raise DatasetError(f"{run_folder} holds no stage-one checkpoint to classify with")
    config, label_map = read_config(run_folder), read_label_map(run_folder)
    embedding = embedding_model_for(config.model, weights="none")  # the checkpoint holds the weights
    head = head_for(config.head, len(label_map))
    model = training_model(embedding, head, config.model.input_size)
    tf.train.Checkpoint(model=model).restore(checkpoint).expect_partial()
    if isinstance(head, ArcHead):
        head.set_margin(0.0)  # the checkpoint holds the training margin
    return embedding, head, label_map, config


def classify(run_folder, roi_set, out_dir, batch_size=64):
    """Classify the images of known classes; writes classification.md and confusion.png; returns the report dict."""
    embedding, head, label_map, config = restore_classifier(run_folder)
    names = np.array(class_names(roi_set.fish_ids, roi_set.flanks, config.data.class_by))
    known = np.isin(names, list(label_map))
    if not known.any():
        raise DatasetError(f"none of the test images shows a class {run_folder} was trained on")
    subset = roi_set.subset(np.flatnonzero(known))
    truth = np.array([label_map[name] for name in names[known]])
    predicted = []
    for images, _ in evaluation_dataset(subset, config.model.input_size, batch_size):
        features = embedding(images, training=False)
        predicted.append(tf.argmax(head([features, tf.zeros(tf.shape(features)[0], tf.int64)]), axis=-1).numpy())
    predicted = np.concatenate(predicted)
    classes = sorted(label_map, key=label_map.get)
    present = sorted(set(truth) | set(predicted))
    report = classification_report(truth, predicted, labels=present, target_names=[classes[i] for i in present],
                                   output_dict=True, zero_division=0)
    matrix = confusion_matrix(truth, predicted, labels=present)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / "classification.md", _markdown(report, int((~known).sum())))
    _plot_confusion(out_dir / "confusion.png", matrix, [classes[i] for i in present])
    return {"report": report, "confusion_matrix": matrix.tolist(), "skipped_unknown": int((~known).sum()),
            "head": type(head).__name__ + (" (scaled cosines, no margin)" if isinstance(head, ArcHead) else "")}


def _markdown(report, skipped):
    lines = ["| class | precision | recall | f1-score | support |", "|---:|---|---|---|---|"]
    for name, row in report.items():
        if isinstance(row, dict):
            lines.append(f"| {name} | {row['precision']:.2f} | {row['recall']:.2f} | {row['f1-score']:.2f} | "
                         f"{int(row['support'])} |")
    lines.append(f"\naccuracy {report['accuracy']:.4f}; {skipped} images of classes not seen in training skipped")
    return "\n".join(lines) + "\n"


def _plot_confusion(path, matrix, names):
    figure, axis = plt.subplots(figsize=(2 + 0.35 * len(names), 1.5 + 0.35 * len(names)))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
    axis.set_yticks(range(len(names)), names, fontsize=6)
    axis.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
