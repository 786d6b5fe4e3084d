"""The config's registered names (``backbone_type``, ``head_type``, ``metric_loss``) checked against the registries.

The config marks these keys ``Registered(family)`` (``lateral/config_rules.py``) but cannot check them: the
registries live with the parts, which load TensorFlow, and reading a config must not. Training checks them here
first, before any other work.
"""

import dataclasses

from lateral.config import FLAT_SECTIONS, BadValue
from lateral.config_rules import Registered
from lateral.losses.iom_objective import MAIN_LOSS_PARAMETERS
from lateral.models.backbones import BACKBONES
from lateral.models.heads import HEADS

REGISTRIES = {"backbone": BACKBONES, "head": HEADS, "IoM loss": MAIN_LOSS_PARAMETERS}


def known_names(family):
    return sorted(REGISTRIES[family])


def check_registered_names(config):
    """Fail naming the key and value of the first registered name that no part is registered under."""
    for name in FLAT_SECTIONS:
        section = getattr(config, name)
        for field in dataclasses.fields(section):
            rule = section.RULES.get(field.name)
            value = getattr(section, field.name)
            if isinstance(rule, Registered) and value not in REGISTRIES[rule.family]:
                key = field.metadata.get("key", field.name)
                raise BadValue(key, f"must be one of {', '.join(known_names(rule.family))}, got {value!r}")
