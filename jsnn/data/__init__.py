"""Input pipelines: TFDS (ArrayRecord, no TensorFlow) + grain, host-side numpy augmentation.

Not imported by `import jsnn`. Static images: `{"image": float32 [B, H, W, C], "label": int32 [B]}`;
event streams (`jsnn.data.events`): `{"frames": float32 [T, B, H, W, 2], "label": int32 [B]}`.
"""

from jsnn.data._arrays import array_pipeline as array_pipeline
from jsnn.data._augment import cutout as cutout
from jsnn.data._augment import random_crop_with_padding as random_crop_with_padding
from jsnn.data._augment import random_horizontal_flip as random_horizontal_flip
from jsnn.data._augment import torchtoolbox_cutout as torchtoolbox_cutout
from jsnn.data._autoaugment import cifar10_policy as cifar10_policy
from jsnn.data._cifar_builder import Cifar10Raw as Cifar10Raw
from jsnn.data._cifar_builder import Cifar100Raw as Cifar100Raw
from jsnn.data._cifar_builder import prepare_cifar_raw as prepare_cifar_raw
from jsnn.data._digits import SklearnDigits as SklearnDigits
from jsnn.data._digits import digits_pipeline as digits_pipeline
from jsnn.data._digits import load_digits_split as load_digits_split
from jsnn.data._digits import prepare_digits as prepare_digits
from jsnn.data._imagenet_builder import Imagenet2012Raw as Imagenet2012Raw
from jsnn.data._imagenet_builder import prepare_imagenet_raw as prepare_imagenet_raw
from jsnn.data._imagenet_ops import center_crop as center_crop
from jsnn.data._imagenet_ops import random_resized_crop as random_resized_crop
from jsnn.data._imagenet_ops import resize_shorter_side as resize_shorter_side
from jsnn.data._mnist5k import Mnist5k as Mnist5k
from jsnn.data._mnist5k import load_mnist5k_split as load_mnist5k_split
from jsnn.data._mnist5k import mnist5k_data as mnist5k_data
from jsnn.data._mnist5k import mnist5k_pipeline as mnist5k_pipeline
from jsnn.data._mnist5k import prepare_mnist5k as prepare_mnist5k
from jsnn.data._normalize import MEAN_STD as MEAN_STD
from jsnn.data._normalize import mean_std as mean_std
from jsnn.data._pipeline import make_pipeline as make_pipeline
from jsnn.data._sharding import host_shard as host_shard
from jsnn.data._static import CifarTransform as CifarTransform
from jsnn.data._static import ImageNetTransform as ImageNetTransform
from jsnn.data._static import cifar_pipeline as cifar_pipeline
from jsnn.data._static import imagenet_pipeline as imagenet_pipeline
from jsnn.data._tfds_source import open_source as open_source
from jsnn.data._train_data import PipelineData as PipelineData
from jsnn.data._train_data import cifar_data as cifar_data
from jsnn.data._train_data import digits_data as digits_data
from jsnn.data._train_data import events_data as events_data
from jsnn.data._train_data import imagenet_data as imagenet_data

__all__ = [
    "MEAN_STD",
    "PipelineData",
    "Cifar100Raw",
    "Cifar10Raw",
    "CifarTransform",
    "ImageNetTransform",
    "Imagenet2012Raw",
    "Mnist5k",
    "SklearnDigits",
    "array_pipeline",
    "center_crop",
    "cifar10_policy",
    "cifar_data",
    "cifar_pipeline",
    "cutout",
    "digits_data",
    "digits_pipeline",
    "events_data",
    "host_shard",
    "imagenet_data",
    "imagenet_pipeline",
    "load_digits_split",
    "load_mnist5k_split",
    "make_pipeline",
    "mean_std",
    "mnist5k_data",
    "mnist5k_pipeline",
    "open_source",
    "prepare_cifar_raw",
    "prepare_digits",
    "prepare_imagenet_raw",
    "prepare_mnist5k",
    "random_crop_with_padding",
    "random_horizontal_flip",
    "random_resized_crop",
    "resize_shorter_side",
    "torchtoolbox_cutout",
]
