"""One registry per family of interchangeable parts (backbones, heads, losses, ...).

    BACKBONES = Registry("backbone")

    @BACKBONES.register("MobileNetV2")
    def mobilenet_v2(...): ...

    BACKBONES.get("MobileNetV2")

A duplicate name is an error; an unknown name raises ``UnknownNameError``
listing the known ones (a user's mistake: the CLI reports it in one line).
A family whose module loads TensorFlow lists its names beside it in a module
without TensorFlow, for the command lines' flag choices, and declares them:
``Registry("strategy", declared=STRATEGY_NAMES)`` refuses to register any
other name (the tests check every declared name is registered).
"""

from lateral.user_errors import UserError


class UnknownNameError(UserError):
    """A name (from a config or a flag) that no entry of the family is registered under."""


class Registry:
    def __init__(self, family, declared=None):
        self.family, self.declared = family, declared
        self._entries = {}

    def register(self, name):
        def add(entry):
            if self.declared is not None and name not in self.declared:
                raise ValueError(f"{self.family} {name!r} is not among the declared names {self.declared}")
            if name in self._entries:
                raise ValueError(f"{self.family} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name):
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownNameError(f"unknown {self.family} {name!r}; known: {known}")
        return self._entries[name]

    def names(self):
        return sorted(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(self.names())
