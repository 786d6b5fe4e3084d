"""EfficientNet-Lite0 in Keras, and its ImageNet weights from a PyTorch state dict.

EfficientNet-Lite (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs",
ICML 2019; the Lite variants of the TensorFlow TPU repository, models/official/
efficientnet/lite) is EfficientNet-B0's block layout without squeeze-excitation,
with ReLU6 instead of swish and a fixed stem (32) and head (1280): 4.7 M
parameters, 75 % ImageNet top-1 at 224x224. Convolutions pad as TensorFlow's
'same', as the PyTorch port does (its state dict's module metadata names the
``static_padding`` of EfficientNet-PyTorch's Conv2dStaticSamePadding, which pads
like TensorFlow's 'same'), BatchNorm epsilon 1e-3 (TensorFlow's, kept by the port).

The weights are the PyTorch port's (state-dict names ``_conv_stem``, ``_bn0``,
``_blocks.<i>._expand_conv`` ..., ``_conv_head``, ``_bn1``, ``_fc``), converted
here: convolutions OIHW -> HWIO, depthwise C1HW -> HWC1; the ImageNet
classifier is left out. The model takes pixels normalised to [-1, 1] (the Lite
models' mean 127, scale 128).
"""

import keras
import numpy as np

# (repeats, kernel, stride of the first block, expansion, output channels), EfficientNet-B0's stages.
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
BN_EPSILON = 1e-3
DROP_CONNECT_RATE = 0.2  # stochastic depth, growing linearly over the blocks (the Lite models' training setting)


def efficientnet_lite0(input_shape, name="efficientnet_lite0"):
    """Randomly initialised EfficientNet-Lite0 without its classifier: normalised pixels -> last feature map."""
    inputs = keras.Input(input_shape, name="normalised_pixels")
    x = _conv_bn(inputs, STEM_CHANNELS, 3, 2, "stem")
    blocks = _blocks()
    for index, (kernel, stride, expansion, channels) in enumerate(blocks):
        x = _mobile_inverted_block(x, kernel, stride, expansion, channels, DROP_CONNECT_RATE * index / len(blocks),
                                   f"block{index}")
    x = _conv_bn(x, HEAD_CHANNELS, 1, 1, "head")
    return keras.Model(inputs, x, name=name)


def _blocks():
    """(kernel, stride, expansion, output channels) of each of the 16 blocks."""
    return [(kernel, stride if repeat == 0 else 1, expansion, channels)
            for repeats, kernel, stride, expansion, channels in STAGES for repeat in range(repeats)]


def _conv_bn(x, channels, kernel, stride, name, activation=True):
    x = keras.layers.Conv2D(channels, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x


def _mobile_inverted_block(inputs, kernel, stride, expansion, channels, drop_rate, name):
    """MBConv without squeeze-excitation: expand 1x1, depthwise kxk, project 1x1, residual when shapes allow."""
    in_channels = inputs.shape[-1]
    x = inputs
    if expansion != 1:
        x = _conv_bn(x, in_channels * expansion, 1, 1, f"{name}_expand")
    x = keras.layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_dwconv_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"{name}_dwconv_relu6")(x)
    x = _conv_bn(x, channels, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and in_channels == channels:
        if drop_rate > 0:
            x = keras.layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def _layer_pairs():
    """(Keras layer name, state-dict prefix, kind) for every layer holding weights."""
    pairs = [("stem_conv", "_conv_stem", "conv"), ("stem_bn", "_bn0", "bn")]
    for index, (_kernel, _stride, expansion, _channels) in enumerate(_blocks()):
        name, prefix = f"block{index}", f"_blocks.{index}"
        if expansion != 1:
            pairs += [(f"{name}_expand_conv", f"{prefix}._expand_conv", "conv"),
                      (f"{name}_expand_bn", f"{prefix}._bn0", "bn")]
        pairs += [(f"{name}_dwconv", f"{prefix}._depthwise_conv", "depthwise"),
                  (f"{name}_dwconv_bn", f"{prefix}._bn1", "bn"),
                  (f"{name}_project_conv", f"{prefix}._project_conv", "conv"),
                  (f"{name}_project_bn", f"{prefix}._bn2", "bn")]
    return pairs + [("head_conv", "_conv_head", "conv"), ("head_bn", "_bn1", "bn")]


# Per kind of layer: its PyTorch tensors (in Keras' weight order) and how each becomes Keras'.
PARAMETERS = {"bn": ("weight", "bias", "running_mean", "running_var"), "conv": ("weight",), "depthwise": ("weight",)}
TO_KERAS = {
    "bn": lambda values: values,
    "conv": lambda weight: weight.transpose(2, 3, 1, 0),  # (out, in, h, w) -> (h, w, in, out)
    "depthwise": lambda weight: weight.transpose(2, 3, 0, 1),  # (channels, 1, h, w) -> (h, w, channels, 1)
}


def set_torch_weights(model, state_dict):
    """Load the PyTorch port's state dict into ``efficientnet_lite0(...)``; ValueError names a mismatch.

    Every tensor of the state dict but the ImageNet classifier's (``_fc``) and
    BatchNorm's step counters must find its layer, so a state dict of another
    architecture fails.
    """
    used = set()
    for layer_name, prefix, kind in _layer_pairs():
        keys = [f"{prefix}.{parameter}" for parameter in PARAMETERS[kind]]
        missing = [key for key in keys if key not in state_dict]
        if missing:
            raise ValueError(f"the state dict has no {missing[0]!r} (for layer {layer_name})")
        weights = [np.asarray(TO_KERAS[kind](state_dict[key]), "float32") for key in keys]
        expected = [tuple(variable.shape) for variable in model.get_layer(layer_name).weights]
        if [weight.shape for weight in weights] != expected:
            raise ValueError(f"{prefix}: shapes {[weight.shape for weight in weights]} do not fit layer "
                             f"{layer_name} {expected}")
        model.get_layer(layer_name).set_weights(weights)
        used.update(keys)
    unused = sorted(key for key in state_dict
                    if key not in used and not key.endswith("num_batches_tracked") and not key.startswith("_fc."))
    if unused:
        raise ValueError(f"the state dict has tensors this EfficientNet-Lite0 has no layer for, e.g. {unused[0]!r}")
