"""TUM RGB-D style folders: rgb.txt + groundtruth.txt (+ captions.jsonl or labels.jsonl, whose boxes become
detections), or caption-only sets.

``groundtruth.txt`` holds camera-to-world poses of the optical frame (``timestamp tx ty tz qx qy qz qw``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embodied_rag.errors import UserError
from embodied_rag.io.frame import Frame, SkipLog
from embodied_rag.io.images import BadImage, read_image_file
from embodied_rag.memory.detection import Detection
from embodied_rag.memory.pose import InvalidPose, Pose, PoseBuffer


def is_tum_folder(path: Path) -> bool:
    return path.is_dir() and (path / "groundtruth.txt").is_file()


def _stamp_ns(text: str) -> int:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"timestamp {text} is not finite")
    return round(value * 1e9)


@dataclass
class _Text:
    caption: str = ""
    name: str = ""
    objects: list[str] | None = None
    detections: list[Detection] = field(default_factory=list)


def _objects_of(record: dict[str, Any]) -> list[str]:
    objs = record.get("objects") or []
    if isinstance(objs, str):
        return [o.strip() for o in objs.split(",") if o.strip()]
    out: list[str] = []
    for o in objs:
        label = o.get("label", "") if isinstance(o, dict) else str(o)
        label = str(label).strip()
        if label and label not in out:
            out.append(label)
    return out


def _detections_of(record: dict[str, Any]) -> list[Detection]:
    """Objects with a ``bbox`` [x0, y0, x1, y1] (pixels) as detections; a single colour becomes an attribute."""
    out = []
    for o in record.get("objects") or []:
        if not isinstance(o, dict) or not isinstance(o.get("bbox"), list) or not str(o.get("label", "")).strip():
            continue
        colour = o.get("colour") or []
        colour = [colour] if isinstance(colour, str) else [c for c in colour if isinstance(c, str)]
        try:
            box = tuple(float(v) for v in o["bbox"])
        except (TypeError, ValueError):
            continue
        if len(box) == 4 and box[2] > box[0] and box[3] > box[1]:
            out.append(Detection(str(o["label"]).strip(), box, float(o.get("score", 1.0)),  # type: ignore[arg-type]
                                 {"colour": colour[0]} if len(colour) == 1 else {}))
    return out


def _labels_caption(record: dict[str, Any]) -> str:
    """Detector-style labels (label + colour) as a caption listing what is visible."""
    seen: list[str] = []
    for o in record.get("objects") or []:
        if not isinstance(o, dict):
            continue
        colour = o.get("colour") or []
        colour = [colour] if isinstance(colour, str) else [c for c in colour if isinstance(c, str)]
        words = (" and ".join(colour[:2]) + " " if colour and len(colour) <= 2 else "") + str(o.get("label", ""))
        if words.strip() and words not in seen:
            seen.append(words.strip())
    return ("Visible objects: " + ", ".join(seen) + ".") if seen else ""


class TumFolder:
    """Reads a posed-image folder; yields :class:`Frame` in time order and counts what it skips."""

    def __init__(self, folder: str | Path, skips: SkipLog | None = None, max_pose_gap_s: float = 0.05):
        self.folder = Path(folder)
        if not is_tum_folder(self.folder):
            raise UserError(f"{self.folder} is not a TUM-style folder (no groundtruth.txt).")
        self.skips = skips or SkipLog()
        self.poses = PoseBuffer(max_pose_gap_s)
        self._pose_rows: list[tuple[int, Pose]] = []
        self._read_groundtruth()
        self.texts_by_image: dict[str, _Text] = {}
        self.texts_by_stamp: dict[int, _Text] = {}
        self.caption_only = False
        self._read_texts()
        self.images = self._read_rgb()

    def _lines(self, name: str) -> Iterator[tuple[int, list[str]]]:
        path = self.folder / name
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UserError(f"Cannot read {path}: {exc.strerror}.") from None
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#"):
                yield n, line.split()

    def _read_groundtruth(self) -> None:
        for n, parts in self._lines("groundtruth.txt"):
            try:
                if len(parts) != 8:
                    raise ValueError(f"{len(parts)} fields, 8 expected")
                stamp = _stamp_ns(parts[0])
                pose = Pose.checked([float(v) for v in parts[1:4]], [float(v) for v in parts[4:8]])
            except (ValueError, InvalidPose) as exc:
                self.skips.skip("bad_pose", f"groundtruth.txt line {n}: {exc}")
                continue
            self.poses.add(stamp, pose)
            self._pose_rows.append((stamp, pose))

    def _read_texts(self) -> None:
        for name in ("captions.jsonl", "labels.jsonl"):
            path = self.folder / name
            if not path.is_file():
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    if not isinstance(rec, dict):
                        raise ValueError("not an object")
                except ValueError as exc:
                    self.skips.skip("bad_caption", f"{name} line {n}: {exc}")
                    continue
                caption = str(rec.get("caption") or "") or _labels_caption(rec)
                t = _Text(caption=caption, name=str(rec.get("name") or ""), objects=_objects_of(rec),
                          detections=_detections_of(rec))
                if rec.get("image"):
                    self.texts_by_image[str(rec["image"])] = t
                if rec.get("timestamp") is not None:
                    try:
                        self.texts_by_stamp[_stamp_ns(str(rec["timestamp"]))] = t
                    except ValueError:
                        pass

    def _read_rgb(self) -> list[tuple[int, str]]:
        if not (self.folder / "rgb.txt").is_file():
            self.caption_only = True
            return []
        out = []
        for n, parts in self._lines("rgb.txt"):
            try:
                out.append((_stamp_ns(parts[0]), parts[1]))
            except (ValueError, IndexError):
                self.skips.skip("bad_line", f"rgb.txt line {n} is not 'timestamp filename'")
        return sorted(out)

    def __len__(self) -> int:
        return len(self._pose_rows) if self.caption_only else len(self.images)

    def __iter__(self) -> Iterator[Frame]:
        if self.caption_only:
            for stamp, pose in sorted(self._pose_rows, key=lambda r: r[0]):
                t = self.texts_by_stamp.get(stamp)
                if t is None:
                    self.skips.skip("no_caption", f"place at {stamp / 1e9:.3f} s has no caption")
                    continue
                yield Frame(stamp, pose, None, t.caption, t.name, list(t.objects or []), source=f"t{stamp / 1e9:.6f}")
            return
        for stamp, rel in self.images:
            pose = self.poses.at(stamp)
            if pose is None:
                self.skips.skip("no_pose", f"{rel}: no pose within the max gap of {stamp / 1e9:.3f} s")
                continue
            try:
                image = read_image_file(str(self.folder / rel))
            except BadImage as exc:
                self.skips.skip("bad_image", str(exc).replace(str(self.folder) + "/", ""))
                continue
            t = self.texts_by_image.get(rel) or self.texts_by_stamp.get(stamp) or _Text()
            yield Frame(stamp, pose, image, t.caption, t.name, list(t.objects or []), source=rel,
                        detections=list(t.detections))
