"""Neuromorphic event streams: raw-format parsers, SpikingJelly-exact frame integration, TFDS builders
(CIFAR10-DVS, DVS128 Gesture, N-MNIST; raw files from `manual_dir`) and time-major frame pipelines.

Importing this package registers the builders with TFDS (`cifar10_dvs`, `dvs128_gesture`, `n_mnist`).
"""

from jsnn.data.events._cifar10_dvs import Cifar10Dvs as Cifar10Dvs
from jsnn.data.events._dataset_source import EventDatasetSource as EventDatasetSource
from jsnn.data.events._dvs128_gesture import Dvs128Gesture as Dvs128Gesture
from jsnn.data.events._events import EventFileError as EventFileError
from jsnn.data.events._events import Events as Events
from jsnn.data.events._events import as_events as as_events
from jsnn.data.events._events import check_sensor_bounds as check_sensor_bounds
from jsnn.data.events._formats import read_aedat2 as read_aedat2
from jsnn.data.events._formats import read_aedat2_raw as read_aedat2_raw
from jsnn.data.events._formats import read_aedat31 as read_aedat31
from jsnn.data.events._formats import read_nmnist_bin as read_nmnist_bin
from jsnn.data.events._frames import binarize as binarize
from jsnn.data.events._frames import normalize_by_max as normalize_by_max
from jsnn.data.events._frames import random_flip_and_roll as random_flip_and_roll
from jsnn.data.events._rotate import random_rotation as random_rotation
from jsnn.data.events._rotate import rotate_frames as rotate_frames
from jsnn.data.events._frames import resize_frames as resize_frames
from jsnn.data.events._integrate import frame_segment_indices as frame_segment_indices
from jsnn.data.events._integrate import integrate_events_by_fixed_duration as integrate_events_by_fixed_duration
from jsnn.data.events._integrate import integrate_events_by_fixed_frames_number as integrate_events_by_fixed_frames_number
from jsnn.data.events._integrate import integrate_events_segment_to_frame as integrate_events_segment_to_frame
from jsnn.data.events._n_mnist import NMnist as NMnist
from jsnn.data.events._pipeline import FramesTransform as FramesTransform
from jsnn.data.events._pipeline import events_pipeline as events_pipeline
from jsnn.data.events._pipeline import frames_pipeline as frames_pipeline
from jsnn.data.events._pipeline import prepare as prepare
from jsnn.data.events._pipeline import sensor_size as sensor_size
from jsnn.data.events._pipeline import to_time_major as to_time_major
from jsnn.data.events._writers import encode_aedat2 as encode_aedat2
from jsnn.data.events._writers import encode_aedat31 as encode_aedat31
from jsnn.data.events._writers import encode_nmnist_bin as encode_nmnist_bin
from jsnn.data.events._writers import write_aedat2 as write_aedat2
from jsnn.data.events._writers import write_aedat31 as write_aedat31
from jsnn.data.events._writers import write_nmnist_bin as write_nmnist_bin

__all__ = [
    "Cifar10Dvs",
    "Dvs128Gesture",
    "EventDatasetSource",
    "EventFileError",
    "Events",
    "FramesTransform",
    "NMnist",
    "as_events",
    "binarize",
    "check_sensor_bounds",
    "encode_aedat2",
    "encode_aedat31",
    "encode_nmnist_bin",
    "events_pipeline",
    "frame_segment_indices",
    "frames_pipeline",
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_segment_to_frame",
    "normalize_by_max",
    "prepare",
    "random_flip_and_roll",
    "random_rotation",
    "read_aedat2",
    "read_aedat2_raw",
    "read_aedat31",
    "read_nmnist_bin",
    "resize_frames",
    "rotate_frames",
    "sensor_size",
    "to_time_major",
    "write_aedat2",
    "write_aedat31",
    "write_nmnist_bin",
]
