"""Who writes in a multi-worker job, and the line that names a lost worker (no cluster started)."""

import types

import tensorflow as tf

from lateral.training.workers import is_chief, lost_worker_message

TWO_WORKERS = tf.train.ClusterSpec({"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]})
CHIEF_AND_WORKERS = tf.train.ClusterSpec({"chief": ["10.0.0.9:2222"], "worker": ["10.0.0.1:2222", "10.0.0.2:2222"]})
RELAUNCH = ("the multi-worker job stopped. Relaunch every worker with the same command to resume from the run's "
            "last checkpoint")


def strategy_of(cluster, task_type, task_id):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(cluster, task_type=task_type, task_id=task_id)
    return types.SimpleNamespace(cluster_resolver=resolver)


def test_the_chief_is_the_chief_task_else_worker_0_else_this_process():
    """TensorFlow's rule (multi-worker guide): a ``chief`` task if the cluster has one, else worker 0."""
    assert [is_chief(strategy_of(TWO_WORKERS, "worker", index)) for index in (0, 1)] == [True, False]
    assert is_chief(strategy_of(CHIEF_AND_WORKERS, "chief", 0))
    assert [is_chief(strategy_of(CHIEF_AND_WORKERS, "worker", index)) for index in (0, 1)] == [False, False]
    assert is_chief(tf.distribute.get_strategy())  # one process: it writes


def test_the_lost_worker_is_named_with_its_address_and_this_worker_is_not():
    # Shaped like TensorFlow 2.21's texts: a heartbeat timeout, and a failed exchange with the chief.
    heartbeats = ("Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are "
                  "unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed.")
    assert lost_worker_message(("worker", 0, TWO_WORKERS), heartbeats) == (
        f"worker 0 lost worker 1 (10.0.0.2:2222): {RELAUNCH}")
    exchange = ("Collective ops is aborted by: Socket closed\nAdditional GRPC error information from remote target "
                "/job:chief/replica:0/task:0 while calling /tensorflow.WorkerService/RecvBuf")
    assert lost_worker_message(("worker", 1, CHIEF_AND_WORKERS), exchange) == (
        f"worker 1 lost chief (10.0.0.9:2222): {RELAUNCH}")
    assert lost_worker_message(("worker", 1, TWO_WORKERS), "connection reset by peer") == (
        f"worker 1 lost another worker: {RELAUNCH}")
    assert lost_worker_message(("worker", 0, TWO_WORKERS), "from /job:worker/task:0 and /job:worker/task:7") == (
        f"worker 0 lost another worker: {RELAUNCH}")  # itself, and a task outside the cluster, are not named
