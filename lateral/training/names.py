"""The names of the training registries' entries, without TensorFlow: the flags' choices, known before it loads.

Each registry declares its names from here (``lateral.registry``), so a
name added there and not here fails at import; tests check the reverse.
"""

STRATEGY_NAMES = ("default", "mirrored", "multi_worker")  # lateral.training.strategies.STRATEGIES
LOOP_NAMES = ("eager_tf", "fit")  # lateral.training.stage_one.LOOPS (--mode)
