"""Keep TensorFlow's start-up chatter out of the user's way (every entry point calls this first).

TensorFlow 2.21 writes its start-up lines (oneDNN, CUDA probing, CPU
features, "All log messages before absl::InitializeLog()") from C++ through
absl before ``TF_CPP_MIN_LOG_LEVEL`` is read, so the variable alone does not
hide them. ``quiet_unless_verbose`` therefore

- sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user set it) for later C++ logs,
- imports TensorFlow, when something first imports it, with file descriptor 2
  sent to a temporary file, and probes the devices there (the CUDA probe logs
  on first use); the captured text is replayed if the import fails,
- sets absl's and the ``tensorflow`` logger's threshold to ERROR and ignores
  Python warnings raised from keras, tensorflow and absl.

It leaves oneDNN on (``TF_ENABLE_ONEDNN_OPTS`` untouched: numbers do not
change). ``--verbose`` on the command line (or ``LATERAL_VERBOSE=1``) keeps
everything. This module imports nothing heavy: it must run before TensorFlow.
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
import warnings

VERBOSE_FLAGS = {"--verbose", "--verbose=true", "--verbose=True", "--verbose=1"}
CHATTY_MODULES = r"(keras|tensorflow|tf_keras|absl|google\.protobuf)(\.|$)"


def verbose_requested(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    return os.environ.get("LATERAL_VERBOSE") == "1" or any(arg in VERBOSE_FLAGS for arg in argv)


def quiet_unless_verbose(argv=None):
    """Quiet TensorFlow for the rest of this process unless ``--verbose`` is in ``argv``; returns verbose."""
    if verbose_requested(argv):
        os.environ["LATERAL_VERBOSE"] = "1"  # child processes (the demo's steps, spawned workers) stay verbose
        return True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=CHATTY_MODULES)
    try:
        from absl import logging as absl_logging
    except ImportError:  # absl comes with TensorFlow; without it there is nothing to quiet
        pass
    else:
        absl_logging.set_verbosity(absl_logging.ERROR)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
    return False


@contextlib.contextmanager
def _stderr_captured():
    """File descriptor 2 goes to a temporary file; on an exception its text is written back first."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            captured.seek(0)
            os.write(2, captured.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _stderr_captured():
            self._loader.exec_module(module)
            module.config.list_physical_devices()  # the CUDA probe logs once, here


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Wraps the first import of ``tensorflow`` (direct, or through keras) in ``_stderr_captured``."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec
