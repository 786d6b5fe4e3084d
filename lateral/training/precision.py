"""Mixed precision: ``auto`` is mixed_float16 on a GPU and float32 on a CPU.

Under a mixed policy layers compute in float16 (or bfloat16) and keep float32
variables; the model's embeddings, the logits and every loss stay float32.
"""

import keras
import tensorflow as tf


def resolve_policy(name):
    if name == "auto":
        return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    return name


def apply_policy(name):
    policy = resolve_policy(name)
    keras.mixed_precision.set_global_policy(policy)
    return policy
