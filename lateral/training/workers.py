"""The workers of one job under ``--strategy multi_worker``: who writes, how they finish, what a lost worker means.

TensorFlow's convention for ``MultiWorkerMirroredStrategy`` (the tf.distribute
guide "Multi-worker training with Keras", section "Model saving and loading"):
every worker runs the same program and takes part in every collective
operation, saving included, but only the chief writes where the user looks;
the others write the same files to a temporary folder that they delete. The
chief is the task of type ``chief``, or worker 0 when the cluster has no
``chief`` job. Under any other strategy this process is the chief.

``worker_session`` holds one worker's part of a job from the moment its
strategy exists to its exit.
"""

import contextlib
import re
import shutil
import socket
import sys
import tempfile
import time

import tensorflow as tf
from tensorflow.python.eager import context

from lateral.models.saved import weights_fingerprint
from lateral.runs import RunFolderError
from lateral.user_errors import JobStopped

FINISH_BARRIER = "lateral_training_finished"
FINISH_TIMEOUT_SECONDS = 30 * 60  # how long a finished worker waits for the slowest one's final saves
EXIT_WAIT_SECONDS = 120  # how long the chief waits for the other workers' processes to end
TASK = re.compile(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)")


def _task(strategy):
    """(task type, task index, cluster spec) of this worker, or None outside a multi-worker job."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None
    return resolver.task_type, int(resolver.task_id), resolver.cluster_spec()


def is_chief(strategy):
    """Whether this process writes the run folder, the logs and the trained models (the one lock holder)."""
    task = _task(strategy)
    if task is None:
        return True
    task_type, task_id, cluster = task
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster.jobs)


def worker_name(task_type, task_id):
    return task_type if task_type == "chief" else f"{task_type} {task_id}"


def summary_writer(strategy, folder):
    """The TensorBoard writer of ``folder`` on the chief; one that writes nothing on the other workers."""
    return tf.summary.create_file_writer(str(folder)) if is_chief(strategy) else tf.summary.create_noop_writer()


@contextlib.contextmanager
def worker_session(strategy, checkpoint_root):
    """Yields the root this worker writes its run folder under: ``checkpoint_root`` on the chief, a
    temporary folder (removed on leaving) on the others.

    Leaving normally, every worker waits for the others at a barrier (so none stops while another still
    needs it), then the chief waits until the other workers' processes have ended (the coordination
    service runs in the chief: a worker outliving it reports a failed heartbeat). A worker lost
    mid-run (TensorFlow aborts the collective operations with ``UnavailableError``) raises
    ``JobStopped`` naming it.
    """
    task = _task(strategy)
    if task is None:
        yield checkpoint_root
        return
    task_type, task_id, _ = task
    root = checkpoint_root if is_chief(strategy) else tempfile.mkdtemp(prefix=f"lateral-{task_type}-{task_id}-")
    try:
        yield root
        context.context().wait_at_barrier(FINISH_BARRIER, FINISH_TIMEOUT_SECONDS * 1000)
    except tf.errors.UnavailableError as error:
        raise JobStopped(lost_worker_message(task, str(error))) from None
    finally:
        if root != checkpoint_root:
            shutil.rmtree(root, ignore_errors=True)
    if is_chief(strategy):
        _wait_for_exit(_other_addresses(task))


def lost_worker_message(task, error_text):
    """One line naming the workers that TensorFlow's error text names, other than this one."""
    task_type, task_id, cluster = task
    lost = []
    for job, index in TASK.findall(error_text):
        if (job, int(index)) != (task_type, task_id) and (job, int(index)) not in lost:
            lost.append((job, int(index)))
    names = [f"{worker_name(job, index)} ({cluster.task_address(job, index)})" for job, index in lost
             if job in cluster.jobs and index in cluster.task_indices(job)]
    who = " and ".join(names) if names else "another worker"
    return (f"{worker_name(task_type, task_id)} lost {who}: the multi-worker job stopped. Relaunch every worker "
            "with the same command to resume from the run's last checkpoint")


def check_same_start(strategy, step, run_folder):
    """Refuse a multi-worker job whose workers resume ``run_folder`` at different steps: they do not
    see the same checkpoints, so ``--checkpoint_root`` is not one folder shared by every machine."""
    task = _task(strategy)
    if task is None:
        return
    steps = strategy.gather(strategy.experimental_distribute_values_from_function(
        lambda _: tf.constant([step], tf.int64)), axis=0).numpy()
    if len(set(steps.tolist())) > 1:
        per_worker = ", ".join(f"step {value}" for value in steps.tolist())
        raise RunFolderError(
            f"the workers of this job would resume {run_folder} at different steps ({per_worker}, by replica): "
            "every worker must see the same checkpoints, so --checkpoint_root must be one folder shared by all "
            "machines (see docs/multi_worker.md)")


def report_weights(strategy, step, models):
    """In a multi-worker job, print this worker's step and a fingerprint of ``models``' weights:
    after all-reduced updates every worker's must equal the chief's (``weights_fingerprint``)."""
    task = _task(strategy)
    if task is not None:
        print(f"{worker_name(*task[:2])} finished at step {step}, weights {weights_fingerprint(models)}")


def _other_addresses(task):
    task_type, task_id, cluster = task
    return [cluster.task_address(job, index) for job in cluster.jobs for index in cluster.task_indices(job)
            if (job, index) != (task_type, task_id)]


def _wait_for_exit(addresses):
    """Until no process listens at any of the ``host:port`` ``addresses`` (or ``EXIT_WAIT_SECONDS`` passed)."""
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    waiting = list(addresses)
    while waiting and time.monotonic() < deadline:
        waiting = [address for address in waiting if _listening(address)]
        if waiting:
            time.sleep(0.2)
    if waiting:
        print(f"warning: {', '.join(waiting)} still running {EXIT_WAIT_SECONDS} s after the job finished",
              file=sys.stderr)


def _listening(address):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
            return True
    except OSError:
        return False
