"""tf.distribute strategies by name (``--strategy``).

``mirrored`` splits each global batch across the GPUs of one machine;
``multi_worker`` across machines described by the ``TF_CONFIG`` environment
variable (docs/multi_worker.md). Losses are averaged over the global batch, so
results do not depend on the number of replicas.
"""

import tensorflow as tf
from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
from tensorflow.python.eager import context

from lateral.registry import Registry
from lateral.training.names import STRATEGY_NAMES

# How long the coordination service waits for a silent worker before it stops the job. TensorFlow's
# default, 10 s, is shorter than a worker's exit can take on a busy machine: its heartbeats stop
# before its process ends, which the chief waits for (lateral.training.workers).
HEARTBEAT_TIMEOUT_SECONDS = 60
COORDINATED_JOBS = ("chief", "worker")

STRATEGIES = Registry("strategy", declared=STRATEGY_NAMES)
STRATEGIES.register("default")(tf.distribute.get_strategy)


@STRATEGIES.register("multi_worker")
def multi_worker():
    """MultiWorkerMirroredStrategy of the cluster in ``TF_CONFIG``, its coordination service configured
    as the strategy would (the chief, or worker 0, leads it) but with ``HEARTBEAT_TIMEOUT_SECONDS``."""
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    cluster = resolver.cluster_spec()
    if resolver.task_type in COORDINATED_JOBS and context.context().coordination_service is None:
        leader = "chief" if "chief" in cluster.jobs else "worker"
        context.context().configure_coordination_service(
            service_type="standalone",
            service_leader=f"/job:{leader}/replica:0/task:0",
            heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_SECONDS * 1000,
            coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
                              for job in COORDINATED_JOBS if job in cluster.jobs],
        )
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


@STRATEGIES.register("mirrored")
def mirrored():
    """Every GPU of this machine; without GPUs, every logical CPU device (as tests configure)."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])
