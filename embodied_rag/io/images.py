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


MIN_QUERY_SIDE = 32


def query_image(source) -> np.ndarray:
    """A photo to recognise, from a file path, encoded bytes (JPEG/PNG) or an RGB (or grey) uint8 array, as RGB
    uint8. Raises BadImage (one line) for an unreadable, empty, corrupt, tiny or huge image."""
    if isinstance(source, np.ndarray):
        img = source
        if img.dtype != np.uint8:
            if np.issubdtype(img.dtype, np.floating) and img.size and np.isfinite(img).all() and img.min() >= 0 \
                    and img.max() <= 1.0:
                img = (img * 255.0 + 0.5).astype(np.uint8)
            else:
                raise BadImage(f"the image array has dtype {img.dtype}; give RGB uint8 (or float in 0..1)")
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
            raise BadImage(f"the image array has shape {tuple(img.shape)}; give H x W x 3 (RGB) or H x W (grey)")
        if img.ndim == 2:
            img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_GRAY2RGB)
        name = "the image"
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data, name = bytes(source), "the image"
        else:
            name = str(source)
            try:
                with open(name, "rb") as f:
                    data = f.read()
            except IsADirectoryError:
                raise BadImage(f"{name} is a directory, not an image file") from None
            except OSError as exc:
                raise BadImage(f"cannot read {name}: {exc.strerror or exc}") from None
        if not data:
            raise BadImage(f"{name} is empty")
        buf = np.frombuffer(data, dtype=np.uint8)
        _check_header_size(buf, name)
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if bgr is None:
            raise BadImage(f"{name} ({len(data)} bytes) cannot be decoded as a JPEG or PNG image")
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    if min(h, w) < MIN_QUERY_SIDE:
        raise BadImage(f"{name} is too small to recognise a place in ({w}x{h} pixels; at least "
                       f"{MIN_QUERY_SIDE} on each side)")
    if h * w > MAX_PIXELS:
        raise BadImage(f"{name} is too large ({w}x{h} pixels; at most {MAX_PIXELS // 1_000_000} megapixels)")
    return np.ascontiguousarray(img)


def _check_header_size(buf: np.ndarray, name: str) -> None:
    """Refuse an image whose header announces more than MAX_PIXELS before decoding it (a decompression bomb)."""
    import io
    import warnings

    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with the ML stack
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(buf.tobytes())) as im:
                w, h = im.size
    except Image.DecompressionBombError:
        raise BadImage(f"{name} is too large (more than {MAX_PIXELS // 1_000_000} megapixels)") from None
    except Exception:  # noqa: BLE001 - not a format PIL reads from its header; OpenCV decides below
        return
    if w * h > MAX_PIXELS:
        raise BadImage(f"{name} is too large ({w}x{h} pixels; at most {MAX_PIXELS // 1_000_000} megapixels)")
