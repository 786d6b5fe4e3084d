"""tf.distribute strategies by name (``--strategy``).

``mirrored`` splits each global batch across the GPUs of one machine;
``multi_worker`` across machines described by the ``TF_CONFIG`` environment
variable. Losses are averaged over the global batch, so results do not depend
on the number of replicas.
"""

import tensorflow as tf

from lateral.registry import Registry

STRATEGIES = Registry("strategy")
STRATEGIES.register("default")(tf.distribute.get_strategy)
STRATEGIES.register("multi_worker")(tf.distribute.MultiWorkerMirroredStrategy)


@STRATEGIES.register("mirrored")
def mirrored():
    """Every GPU of this machine; without GPUs, every logical CPU device (as tests configure)."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])
