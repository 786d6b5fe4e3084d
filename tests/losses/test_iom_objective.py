"""The stage-two objective, built from the config's IoM section."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lateral.config import Config, IomConfig
from lateral.losses import LOSSES
from lateral.losses.iom_objective import build_iom_objective, term_settings
from lateral.models.iom import soft_codes

LABELS = tf.constant([0, 0, 1, 1, 2, 2])


def logits(m, q, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=(len(LABELS), m, q)), tf.float32)


@pytest.mark.parametrize("iom", [
    IomConfig(m=6, q=4, bin_lut_loss="tanh"),
    IomConfig(m=6, q=4, T=2.0, loss_fun="batch_hard_triplet", triplet_margin=0.3, quanti=False, quanti_weight=9.0),
    IomConfig(m=6, q=8, code_balance_loss=False, bin_lut_loss="sigmoid", bin_lut_weight=0.5),
])
def test_the_objective_is_its_switched_on_terms_each_weighted_as_the_section_says(iom):
    batch = logits(iom.m, iom.q)
    total, terms = build_iom_objective(iom)(LABELS, batch)
    expected_terms = {iom.loss_fun} | {name for name, on in [("quantisation_loss", iom.quanti),
                                                             ("code_balance_loss", iom.code_balance_loss),
                                                             ("bin_lut_loss", iom.bin_lut_loss != "none")] if on}
    assert set(terms) == expected_terms and expected_terms <= set(term_settings(iom))
    np.testing.assert_allclose(float(total), sum(float(value) for value in terms.values()), rtol=1e-5)
    codes = soft_codes(batch, iom.T)
    if iom.quanti:
        np.testing.assert_allclose(float(terms["quantisation_loss"]),
                                   iom.quanti_weight * float(LOSSES.get("quantisation_loss")(LABELS, codes)), rtol=1e-5)
    if iom.code_balance_loss:
        np.testing.assert_allclose(float(terms["code_balance_loss"]), iom.code_balance_weight * float(
            LOSSES.get("code_balance_loss")(LABELS, codes, q=iom.q)), rtol=1e-5)


def test_term_settings_name_keys_of_the_section():
    keys = {field.name for field in dataclasses.fields(IomConfig)}
    for loss_fun in ["batch_hard_arc_triplet_loss", "quadruplet_loss"]:
        settings = term_settings(IomConfig(loss_fun=loss_fun))
        assert all(key in keys for names in settings.values() for key in names)


def test_a_whole_config_still_builds_the_same_objective():
    """Callers not yet converted pass the whole config; its flat keys are the section's."""
    config = Config(sub_name="a", m=6, q=4, bin_lut_loss="tanh")
    batch = logits(6, 4, seed=1)
    from_config = build_iom_objective(config)(LABELS, batch)[1]
    from_section = build_iom_objective(config.iom)(LABELS, batch)[1]
    assert {name: float(value) for name, value in from_config.items()} == {
        name: float(value) for name, value in from_section.items()}
