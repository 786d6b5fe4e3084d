"""ArcHead's margin schedule: a softmax warm-up, then a linear margin ramp, set before every step.

From scratch on few identities ArcFace can collapse (FS48, 16 fish: loss
stuck, training accuracy 0). The usual fixes: train first without the margin
(a cosine-softmax, ``head_warmup_epochs``), then let the margin grow linearly
from 0 to ``margin`` (``margin_ramp_epochs``), as in the warm-up strategies of
InsightFace and Bag of Tricks (Luo et al. 2019, arXiv 1903.07071). Both
training modes call the schedule with the engine's step count before each
step, so a resumed run continues where the schedule was.
"""

from lateral.models.heads import ArcHead


def margin_at_step(step, margin, warmup_steps, ramp_steps):
    """The margin of the step that follows ``step`` completed updates.

    0 during the warm-up (step < warmup_steps); then margin * (step - warmup_steps) / ramp_steps
    until it reaches ``margin`` at step warmup_steps + ramp_steps; at once when ramp_steps is 0.
    """
    if step < warmup_steps:
        return 0.0
    if ramp_steps <= 0:
        return float(margin)
    return float(margin) * min(1.0, (step - warmup_steps) / ramp_steps)


class MarginSchedule:
    """Sets an ArcHead's current margin for each step; ``current`` is the last value set."""

    def __init__(self, head, margin, warmup_steps, ramp_steps):
        self.head = head
        self.margin = margin
        self.warmup_steps = warmup_steps
        self.ramp_steps = ramp_steps
        self.current = None

    def __call__(self, step):
        value = margin_at_step(step, self.margin, self.warmup_steps, self.ramp_steps)
        if value != self.current:  # one variable write per change, not per step
            self.head.set_margin(value)
            self.current = value
        return value


def margin_schedule_for(head, head_section, steps_per_epoch):
    """The schedule of an ArcHead from the head section's epochs, or None for heads without a margin."""
    if not isinstance(head, ArcHead):
        return None
    return MarginSchedule(head, head_section.margin, round(head_section.head_warmup_epochs * steps_per_epoch),
                          round(head_section.margin_ramp_epochs * steps_per_epoch))
