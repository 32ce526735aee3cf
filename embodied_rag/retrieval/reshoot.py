"""Re-shot photos: seeded distortions of a real image, standing in for a photo of the same place taken again (with
another camera, hand-held, in other light), to evaluate query by image against a memory of the originals.

Each distortion has a name and draws its strength from a range with the given generator, so a (seed, image,
distortion) triple always gives the same photo. ``combo`` chains two or three of the others.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Distortion = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zoomed in or framed differently: keep 50-85 % of each side, anywhere in the frame."""
    h, w = img.shape[:2]
    fw, fh = rng.uniform(0.5, 0.85), rng.uniform(0.5, 0.85)
    cw, ch = max(8, int(w * fw)), max(8, int(h * fh))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return img[y0:y0 + ch, x0:x0 + cw].copy()


def _rotation(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera rolled by 3-15 degrees either way, cropped to the largest rectangle without borders."""
    h, w = img.shape[:2]
    angle = float(rng.uniform(3.0, 15.0) * rng.choice([-1.0, 1.0]))
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    a = np.radians(abs(angle))
    # Largest axis-aligned rectangle inside the rotated frame (same aspect ratio).
    scale = 1.0 / (np.cos(a) + max(w / h, h / w) * np.sin(a))
    cw, ch = int(w * scale), int(h * scale)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return out[y0:y0 + ch, x0:x0 + cw].copy()


def _exposure(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Under- or over-exposed, another gamma and a colour cast."""
    gain = float(rng.choice([rng.uniform(0.35, 0.7), rng.uniform(1.3, 1.9)]))
    gamma = float(rng.uniform(0.6, 1.6))
    cast = rng.uniform(0.85, 1.15, size=3)
    x = (img.astype(np.float32) / 255.0) ** gamma * gain * cast
    return np.clip(x * 255.0, 0, 255).astype(np.uint8)


def _blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Out of focus (Gaussian) or shaken (linear motion blur), scaled to the image size."""
    h, w = img.shape[:2]
    unit = max(h, w) / 1024.0
    if rng.random() < 0.5:
        sigma = float(rng.uniform(1.5, 3.5)) * unit
        return cv2.GaussianBlur(img, (0, 0), sigma)
    length = max(3, int(rng.uniform(9, 21) * unit))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2.0, (length - 1) / 2.0), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))


def _jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Strong JPEG compression (quality 5-15)."""
    q = int(rng.integers(5, 16))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _scale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A low-resolution camera: 25-50 % of each side."""
    h, w = img.shape[:2]
    f = float(rng.uniform(0.25, 0.5))
    return cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)


def _noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise in low light (sigma 6-18 grey levels)."""
    n = rng.normal(0.0, float(rng.uniform(6, 18)), size=img.shape)
    return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)


def _perspective(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A slightly different vantage point: each corner moved by up to 8 % of the image size."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-0.08, 0.08, size=(4, 2)).astype(np.float32) * np.float32([w, h])
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


DISTORTIONS: dict[str, Distortion] = {
    "crop": _crop, "rotation": _rotation, "exposure": _exposure, "blur": _blur, "jpeg": _jpeg, "scale": _scale,
    "noise": _noise, "perspective": _perspective,
}
NAMES = (*DISTORTIONS, "combo")


def reshoot(img: np.ndarray, distortion: str, rng: np.random.Generator) -> np.ndarray:
    """The image (RGB uint8) re-shot with one named distortion (or ``combo``: two or three of them, in random
    order; JPEG, when drawn, comes last as it would from a camera)."""
    if distortion == "combo":
        names = list(rng.choice(list(DISTORTIONS), size=int(rng.integers(2, 4)), replace=False))
        names.sort(key=lambda n: n == "jpeg")
        out = img
        for name in names:
            out = DISTORTIONS[name](out, rng)
        return out
    if distortion not in DISTORTIONS:
        raise ValueError(f"unknown distortion '{distortion}' (known: {', '.join(NAMES)})")
    return DISTORTIONS[distortion](img, rng)


def reshoot_seeded(img: np.ndarray, distortion: str, seed: int, index: int) -> np.ndarray:
    """The same re-shot photo for the same (seed, image index, distortion), whatever else was generated before."""
    salt = NAMES.index(distortion) if distortion in NAMES else 0
    return reshoot(img, distortion, np.random.default_rng([seed, index, salt]))
