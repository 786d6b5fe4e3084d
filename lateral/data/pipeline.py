"""tf.data input pipelines over an in-memory RoiSet.

Images leave the pipeline as float32 in 0..255 at ``input_size``; the model
normalises them for its backbone, so a saved model takes plain pixels.
"""

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def decode_roi(encoded, input_size):
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return tf.image.resize(tf.cast(image, tf.float32), input_size)


def _tensors(roi_set):
    return tf.constant(list(roi_set.images), tf.string), tf.constant(roi_set.labels, tf.int64)


def training_dataset(roi_set, index_batches, input_size, augment=None, seed=0, start_step=0):
    """Batches of (images, labels) in the order the index sampler chose them.

    ``index_batches`` starts at batch ``start_step`` of its sequence (the samplers' ``start_step``).
    Image i of batch s is augmented with the seed (``seed``, s * batch + i), so batch s gets the same
    draws in every run with this seed, a resumed one too, and in whatever order the parallel map
    decodes it.
    """
    images, labels = _tensors(roi_set)
    batch_size = index_batches.element_spec.shape[0]
    if batch_size is None:
        batch_size = _first_batch_size(index_batches)

    def number(step, batch):
        positions = step * batch_size + tf.range(tf.size(batch, out_type=tf.int64))
        return batch, tf.stack([tf.fill(tf.shape(positions), tf.cast(seed, tf.int64)), positions], axis=1)

    def load(index, image_seed):
        image = decode_roi(tf.gather(images, index), input_size)
        if augment is not None:
            image = augment(image, image_seed)
        return image, tf.gather(labels, index)

    # Unbatching into single images lets decoding run in parallel; the fixed
    # batch size and deterministic order keep every batch as the sampler chose it.
    return (
        index_batches.enumerate(start=start_step).map(number).unbatch()
        .map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(AUTOTUNE)
    )


def _first_batch_size(index_batches):
    return int(next(iter(index_batches.take(1))).shape[0])


def evaluation_dataset(roi_set, input_size, batch_size):
    """Every image once, in order, without augmentation: (images, labels)."""
    images, labels = _tensors(roi_set)
    return (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .map(lambda encoded, label: (decode_roi(encoded, input_size), label), num_parallel_calls=AUTOTUNE)
        .batch(batch_size)
        .prefetch(AUTOTUNE)
    )


def embed_roi_set(model, roi_set, input_size, batch_size, flip_tta=False):
    """``model``'s outputs for every image of ``roi_set``, in order: NumPy [n, ...].

    ``flip_tta``: each output is the mean of the model's outputs for the image and for its
    left-right mirror (flip test-time augmentation).
    """

    def outputs(images):
        views = (images, tf.image.flip_left_right(images)) if flip_tta else (images,)
        return sum(model(view, training=False).numpy() for view in views) / len(views)

    return np.concatenate([outputs(images) for images, _ in evaluation_dataset(roi_set, input_size, batch_size)])
