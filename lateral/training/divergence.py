"""The training engine's non-finite guard: a NaN or infinite loss stops training, naming the term and step."""

import math

from lateral.config import ConfigError


class TrainingDiverged(ConfigError):
    """The loss stopped being finite: a setting (most often ``base_lr``) drove the weights or a term to overflow.

    A ``ConfigError``: the entry scripts report it in one line with exit code 2. The last
    checkpoint, saved before the step that failed, is left as it was.
    """


def check_finite(step, terms, remedy):
    """Raise ``TrainingDiverged`` if any value of ``terms`` ({name: float}) is NaN or infinite.

    ``remedy(names of the non-finite terms)`` finishes the message: what the user can change.
    """
    bad = [name for name, value in terms.items() if not math.isfinite(value)]
    if not bad:
        return
    shown = ", ".join(f"{name}={value:.4g}" for name, value in terms.items())
    which = f"term {bad[0]!r}" if len(bad) == 1 else f"terms {', '.join(repr(name) for name in bad)}"
    raise TrainingDiverged(
        f"training diverged at step {step}: loss {which} became non-finite ({shown}); {remedy(bad)}"
    )
