"""The embedding network and the head built from the config's model and head sections."""

import math

from lateral.config import HeadConfig, ModelConfig
from lateral.models.embedding import embedding_model_for
from lateral.models.heads import ArcHead, NormHead, head_for


def test_the_embedding_network_follows_the_model_section():
    model = ModelConfig(input_size=(32, 48), backbone_width=0.35, embedding_size=8, dropout=0.0, bn_momentum=0.8,
                        bnneck=True, colour_constancy="grey_world", weights="imagenet")
    network = embedding_model_for(model, weights="none")  # "none": nothing downloaded
    assert tuple(network.input_shape[1:3]) == (32, 48) and network.output_shape == (None, 8)
    names = {layer.name for layer in network.layers}
    assert {"bnneck", "colour_constancy"} <= names
    assert network.get_layer("bnneck").momentum == 0.8


def test_the_head_follows_the_head_section():
    head = head_for(HeadConfig(margin=0.2, logit_scale="auto"), 16)
    assert isinstance(head, ArcHead) and head.margin == 0.2
    assert math.isclose(head.logist_scale, math.sqrt(2) * math.log(15))
    assert isinstance(head_for(HeadConfig(head_type="NormHead"), 4), NormHead)
