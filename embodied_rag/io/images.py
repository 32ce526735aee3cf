"""Decoding of sensor_msgs/Image and CompressedImage payloads (from rosbags or rclpy) into numpy arrays."""

from __future__ import annotations

import cv2
import numpy as np

COLOUR_ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
DEPTH_ENCODINGS = {"16UC1": np.dtype("uint16"), "mono16": np.dtype("uint16"), "32FC1": np.dtype("float32")}
MAX_PIXELS = 50_000_000


class BadImage(ValueError):
    """An image that cannot be decoded; the message says why in one line."""


def _rows(height: int, width: int, step: int, data, channels: int, itemsize: int, bigendian: bool,
          dtype: np.dtype) -> np.ndarray:
    if height <= 0 or width <= 0:
        raise BadImage(f"empty image ({width}x{height})")
    if height * width > MAX_PIXELS:
        raise BadImage(f"image too large ({width}x{height})")
    row_bytes = width * channels * itemsize
    if step < row_bytes:
        raise BadImage(f"step {step} is smaller than a row ({row_bytes} bytes)")
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(), dtype=np.uint8)
    if buf.size < step * (height - 1) + row_bytes:
        raise BadImage(f"data has {buf.size} bytes, {step * height} expected for {width}x{height} step {step}")
    rows = np.lib.stride_tricks.as_strided(buf, shape=(height, row_bytes), strides=(step, 1))
    arr = np.ascontiguousarray(rows).view(dtype.newbyteorder(">" if bigendian else "<"))
    return arr.reshape(height, width, channels) if channels > 1 else arr.reshape(height, width)


def decode_image(encoding: str, height: int, width: int, step: int, data, is_bigendian: bool = False) -> np.ndarray:
    """A colour image as RGB uint8 (mono8 stays 2-D). Raises BadImage."""
    enc = encoding.strip()
    if enc not in COLOUR_ENCODINGS:
        raise BadImage(f"unsupported colour encoding '{enc[:32]}' (supported: {', '.join(COLOUR_ENCODINGS)})")
    ch = COLOUR_ENCODINGS[enc]
    img = _rows(height, width, step, data, ch, 1, bool(is_bigendian), np.dtype("uint8"))
    if enc == "bgr8":
        img = img[..., ::-1]
    elif enc == "rgba8":
        img = img[..., :3]
    elif enc == "bgra8":
        img = img[..., 2::-1]
    return np.ascontiguousarray(img)


def decode_depth(encoding: str, height: int, width: int, step: int, data, is_bigendian: bool = False) -> np.ndarray:
    """A depth image in metres (float32; 16UC1 is millimetres, REP-118). Raises BadImage."""
    enc = encoding.strip()
    if enc not in DEPTH_ENCODINGS:
        raise BadImage(f"unsupported depth encoding '{enc[:32]}' (supported: {', '.join(DEPTH_ENCODINGS)})")
    dt = DEPTH_ENCODINGS[enc]
    img = _rows(height, width, step, data, 1, dt.itemsize, bool(is_bigendian), dt).astype(np.float32)
    if dt == np.uint16:
        img = img / 1000.0
    img[~np.isfinite(img)] = 0.0
    return img


def decode_compressed(fmt: str, data) -> np.ndarray:
    """A CompressedImage (jpeg/png) as RGB uint8. Raises BadImage."""
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(), dtype=np.uint8)
    if buf.size == 0:
        raise BadImage("compressed image is empty")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise BadImage(f"compressed image ({fmt[:32] or 'unknown format'}, {buf.size} bytes) cannot be decoded")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_image_file(path: str) -> np.ndarray:
    """An image file as RGB uint8. Raises BadImage."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise BadImage(f"cannot read {path}: {exc.strerror}") from None
    try:
        return decode_compressed(path.rsplit(".", 1)[-1], data)
    except BadImage as exc:
        raise BadImage(f"{path}: {exc}") from None


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    bgr = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadImage("JPEG encoding failed")
    return buf.tobytes()
