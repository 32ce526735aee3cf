"""One typed configuration tree, loaded from YAML files and from ROS parameters alike.

Every key is documented in ``config/default.yaml``; unknown keys are an error so that typos do not pass silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from embodied_rag.errors import UserError


@dataclass
class KeyframeConfig:
    min_distance_m: float = 0.5
    min_angle_deg: float = 20.0
    max_interval_s: float = 10.0
    caption_change: bool = True
    novelty: bool = False
    novelty_max_similarity: float = 0.92


@dataclass
class TransformConfig:
    translation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    rotation_xyzw: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 1.0])


@dataclass
class TopicsConfig:
    image: str = "/camera/image_raw"
    compressed_image: str = "/camera/image_raw/compressed"
    depth: str = "/camera/depth/image_raw"
    camera_info: str = "/camera/camera_info"
    pose: str = "/odom"
    caption: str = "/embodied_rag/caption"
    detections: str = "/detections"


@dataclass
class IngestConfig:
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    max_pose_gap_s: float = 0.5
    caption_max_gap_s: float = 0.1
    body_to_camera: TransformConfig = field(default_factory=TransformConfig)
    embed_batch_size: int = 32


@dataclass
class StoreConfig:
    image_max_side: int = 640
    jpeg_quality: int = 85
    save_images: bool = True


@dataclass
class GraphConfig:
    proximity_radius_m: float = 3.0
    max_travel_edge_m: float = 25.0


@dataclass
class ForestConfig:
    spatial_weight: float = 0.4
    semantic_weight: float = 0.6
    spatial_scale_m: float = 10.0
    spatial_scale_growth: float = 3.0
    thresholds: list[float] = field(default_factory=lambda: [0.55, 0.45, 0.35, 0.25, 0.15])
    max_levels: int = 5
    max_children: int = 24
    max_link_distance_factor: float = 4.0
    exemplars: int = 8
    summary_batch_size: int = 16
    summarizer: str = "extractive"
    rebalance_growth: float = 0.25


@dataclass
class ObjectsConfig:
    enabled: bool = True
    min_observations: int = 2
    gate_m: float = 1.0
    max_depth_m: float = 10.0
    floor_gap_m: float = 1.2


@dataclass
class RetrievalConfig:
    mode: str = "beam"
    beam_width: int = 8
    top_k: int = 5
    exemplar_weight: float = 1.0
    nearest_margin: float = 0.08
    choose_margin: float = 0.05
    mention_bonus: float = 0.1
    min_score: float = 0.2
    max_query_chars: int = 2000
    max_llm_calls: int = 2
    goal_standoff_m: float = 1.0
    goal_max_advance_m: float = 3.0
    object_min_score: float = 0.5
    image_weight: float = 0.5
    timezone: str = "UTC"
    server_search_min_keyframes: int = 100_000


@dataclass
class PlacesConfig:
    enabled: bool = True
    max_features: int = 1000
    image_side: int = 640
    vocabulary_size: int = 32
    descriptor_dims: int = 64
    train_after: int = 20
    retrain_growth: float = 2.0
    shortlist: int = 10
    min_inliers: int = 15
    strong_inliers: int = 60


@dataclass
class ModelConfig:
    name: str = "none"
    model: str = ""
    pretrained: str = ""
    path: str = ""
    cache_dir: str = ""
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 30.0
    retries: int = 1
    max_tokens: int = 160
    device: str = "cpu"
    vocabulary: str = ""
    backend: str = "auto"
    threads: int = 2


@dataclass
class ModelsConfig:
    text_embedder: ModelConfig = field(default_factory=lambda: ModelConfig(name="minilm"))
    image_embedder: ModelConfig = field(default_factory=lambda: ModelConfig(name="none"))
    captioner: ModelConfig = field(default_factory=lambda: ModelConfig(name="none"))
    llm: ModelConfig = field(default_factory=lambda: ModelConfig(name="extractive"))


@dataclass
class Config:
    frame_id: str = "map"
    keyframes: KeyframeConfig = field(default_factory=KeyframeConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    forest: ForestConfig = field(default_factory=ForestConfig)
    objects: ObjectsConfig = field(default_factory=ObjectsConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    places: PlacesConfig = field(default_factory=PlacesConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _convert(cls: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(cls):
        if not isinstance(value, dict):
            raise UserError(f"Config key '{where}' must be a mapping, got {type(value).__name__}.")
        return _build(cls, value, where)
    origin = typing.get_origin(cls)
    if origin is list:
        (item,) = typing.get_args(cls)
        if not isinstance(value, (list, tuple)):
            raise UserError(f"Config key '{where}' must be a list.")
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        return value
    if cls is bool:
        if not isinstance(value, bool):
            raise UserError(f"Config key '{where}' must be true or false, got {value!r}.")
        return value
    if cls is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if cls is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if cls is str and isinstance(value, str):
        return value
    raise UserError(f"Config key '{where}' must be of type {getattr(cls, '__name__', cls)}, got {value!r}.")


def _build(cls: type, data: dict[str, Any], where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        prefix = f"{where}." if where else ""
        raise UserError(f"Unknown config key '{prefix}{unknown[0]}' (known: {', '.join(sorted(names))}).")
    kwargs = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        kwargs[name] = _convert(hints[name], value, key)
    return cls(**kwargs)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a Config from a (possibly partial) nested mapping; missing keys keep their defaults."""
    return _build(Config, _merge(Config().to_dict(), data or {}))


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load a YAML config file (safe loader) over the defaults, then apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"Cannot read config file {p}: {exc.strerror or exc}.") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"Config file {p} is not valid YAML: {exc}.") from None
        if not isinstance(data, dict):
            raise UserError(f"Config file {p} must hold a mapping at the top level.")
        # A ROS parameter file nests the tree under "<node>: ros__parameters:"; accept both shapes.
        data = unwrap_ros_parameters(data)
    if overrides:
        data = _merge(data, overrides)
    return config_from_dict(data)


def unwrap_ros_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """Return the config tree of a ROS parameter file (``/**: ros__parameters: {...}``) or the data unchanged."""
    for value in data.values():
        if isinstance(value, dict) and "ros__parameters" in value:
            params = dict(value["ros__parameters"] or {})
            return {k: v for k, v in params.items() if k in {f.name for f in dataclasses.fields(Config)}}
    return data


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested mapping to dotted keys (the shape of ROS parameters)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out
