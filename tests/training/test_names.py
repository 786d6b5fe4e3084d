"""The training registries' names, listed without TensorFlow for the flags' choices, are the registered ones."""

import pytest

from lateral.registry import Registry
from lateral.training.names import LOOP_NAMES, STRATEGY_NAMES
from lateral.training.stage_one import LOOPS
from lateral.training.strategies import STRATEGIES


@pytest.mark.parametrize("registry, names", [(STRATEGIES, STRATEGY_NAMES), (LOOPS, LOOP_NAMES)])
def test_every_listed_name_is_registered_and_no_other(registry, names):
    assert registry.names() == sorted(names)


def test_a_registry_refuses_a_name_it_did_not_declare():
    registry = Registry("strategy", declared=("default",))
    registry.register("default")(object)
    with pytest.raises(ValueError, match="'tpu' is not among the declared names"):
        registry.register("tpu")(object)
    assert registry.names() == ["default"]
