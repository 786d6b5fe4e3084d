"""Classification heads that turn embeddings into logits for training, registered in HEADS.

    ArcHead:  head([embeddings, labels]) -> ArcFace logits [batch, num_classes]
    NormHead: head([embeddings, labels]) -> plain dense logits [batch, num_classes] (labels unused)

One call signature for the family, so the training model never asks which head it has.
ArcHead's margin in use is a variable (``current_margin``), so a schedule can
start it at 0 (softmax warm-up on scaled cosines) and ramp it up during
training without rebuilding anything (lateral/training/margin_schedule.py).

Both default to a float32 dtype policy, so under mixed_float16 their weights, math and
logits stay float32 (softmax cross-entropy on float16 logits overflows at scale 64).
"""

import math

import keras
import tensorflow as tf

from lateral.config import ConfigError
from lateral.registry import Registry

HEADS = Registry("head")


def arcface_logits(embeddings, weights, labels, margin, scale):
    """ArcFace logits (Deng et al. 2019, arXiv 1801.07698, eq. 3), float32 [batch, classes].

    cos(theta_j) between the normalised embedding and normalised weight column j;
    the true class gets cos(theta_y + m). Past theta_y + m = pi that would rise again,
    so there it falls back to cos(theta_y) - m sin(m) (arcface-tf2's threshold
    cos(theta) > cos(pi - m)). Everything is times ``scale``. ``margin`` may be a
    number or a float32 scalar tensor (a schedule's current margin); 0 gives
    plain scaled cosines (a cosine-softmax).
    """
    embeddings = tf.cast(embeddings, tf.float32)
    weights = tf.cast(weights, tf.float32)
    margin = tf.cast(margin, tf.float32)
    cosines = tf.matmul(tf.math.l2_normalize(embeddings, axis=1), tf.math.l2_normalize(weights, axis=0))
    # clipped inside the root only, so sin(theta)'s gradient stays finite at theta = 0 or pi
    clipped = tf.clip_by_value(cosines, -1.0 + 1e-7, 1.0 - 1e-7)
    sines = tf.sqrt(1.0 - tf.square(clipped))
    with_margin = cosines * tf.cos(margin) - sines * tf.sin(margin)
    past_pi = cosines <= tf.cos(math.pi - margin)
    true_class_logit = tf.where(past_pi, cosines - margin * tf.sin(margin), with_margin)
    is_true_class = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(weights)[1], on_value=True, off_value=False)
    return scale * tf.where(is_true_class, true_class_logit, cosines)


@HEADS.register("ArcHead")
@keras.saving.register_keras_serializable(package="lateral")
class ArcHead(keras.layers.Layer):
    """Additive angular margin head; called on [embeddings, integer labels].

    ``margin`` is the target margin; ``current_margin`` (a non-trainable
    variable, starting at ``margin``) is the one the logits use, set by
    ``set_margin`` (the training schedule, or 0 to score classes without it).
    """

    # ``logist_scale`` keeps the original project's name: it is saved in every .keras file (the config's key is
    # ``logit_scale``).
    def __init__(self, num_classes, margin=0.5, logist_scale=64, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.margin = margin
        self.logist_scale = logist_scale

    def build(self, input_shape):
        embedding_shape, _ = input_shape
        self.class_weights = self.add_weight(
            name="class_weights", shape=(embedding_shape[-1], self.num_classes), initializer="glorot_uniform"
        )
        self.current_margin = self.add_weight(
            name="current_margin", shape=(), initializer=keras.initializers.Constant(self.margin), trainable=False
        )

    def set_margin(self, value):
        self.current_margin.assign(float(value))

    def call(self, inputs):
        embeddings, labels = inputs
        return arcface_logits(embeddings, self.class_weights, labels, self.current_margin, self.logist_scale)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "margin": self.margin,
            "logist_scale": self.logist_scale,
        }


@HEADS.register("NormHead")
@keras.saving.register_keras_serializable(package="lateral")
class NormHead(keras.layers.Layer):
    """A dense layer from embeddings to class logits (plain softmax training); called on [embeddings, labels]."""

    def __init__(self, num_classes, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def build(self, input_shape):
        embedding_shape, _ = input_shape
        self.kernel = self.add_weight(
            name="kernel", shape=(embedding_shape[-1], self.num_classes), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.num_classes,), initializer="zeros")

    def call(self, inputs):
        embeddings, _ = inputs
        return tf.matmul(tf.cast(embeddings, tf.float32), self.kernel) + self.bias

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def adacos_fixed_scale(num_classes):
    """AdaCos' fixed scale s = sqrt(2) ln(C - 1) (Zhang et al. 2019, arXiv 1905.00292, "Fixed AdaCos").

    The scale at which a class's softmax probability can approach 1 when the
    other C - 1 cosines sit near 0: about 3.83 for 16 classes, 4.43 for 24, where
    face recognition's 64 assumes thousands of classes.
    """
    if num_classes < 3:
        raise ConfigError(f"'logit_scale' auto needs at least 3 classes, the training set has {num_classes}")
    return math.sqrt(2.0) * math.log(num_classes - 1)


def resolve_scale(logit_scale, num_classes):
    """The config's ``logit_scale``: a number, or ``auto`` for AdaCos' fixed scale of ``num_classes``."""
    return adacos_fixed_scale(num_classes) if logit_scale == "auto" else float(logit_scale)


def head_for(head, num_classes):
    """The head the config's head section (``config.head``) describes, for ``num_classes`` classes."""
    return build_head(head.head_type, num_classes, margin=head.margin, logit_scale=head.logit_scale)


def build_head(head_type, num_classes, margin, logit_scale):
    """The head the config names; margin and scale (a number or ``auto``) apply to ArcHead only."""
    head_class = HEADS.get(head_type)
    if head_class is ArcHead:
        return ArcHead(num_classes, margin=margin, logist_scale=resolve_scale(logit_scale, num_classes), name="head")
    return head_class(num_classes, name="head")


def training_model(embedding, head, input_size):
    """(pixels, labels) -> the head's logits: the stage-one network as trained and checkpointed in ``ckpt/``."""
    pixels = keras.Input((*input_size, 3), name="pixels")
    labels = keras.Input((), dtype="int64", name="labels")
    logits = head([embedding(pixels), labels])
    return keras.Model([pixels, labels], logits, name="stage_one")
