"""Every configuration key as a ROS parameter (flattened dotted names such as ``forest.max_levels``) and back.

The defaults are those of :class:`embodied_rag.config.Config`, which ``config/default.yaml`` documents key by key
(a core test keeps the two equal), so a node started without a parameter file behaves like the CLI without
``--config``. Parameters are declared with dynamic typing so that a YAML file may write ``[0, 0, 0]`` for a float
list; the config loader then checks every value and a wrong one stops start-up with one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from embodied_rag.config import Config, config_from_dict, flatten, unflatten


@dataclass(frozen=True)
class NodeParam:
    """A node setting that is not part of the core config (topics of the node itself, periods, paths)."""

    name: str
    default: Any
    description: str


def config_parameters(config: Config | None = None) -> dict[str, Any]:
    """The flattened parameter names and values of a config (defaults when None)."""
    return flatten((config or Config()).to_dict())


def declare_config(node: Node, extra: list[NodeParam] = ()) -> None:
    """Declare every config key (and the node's own settings) with its default; overrides come from the launch
    file's parameter file or ``--ros-args -p``."""
    for name, value in config_parameters().items():
        node.declare_parameter(name, value, ParameterDescriptor(name=name, dynamic_typing=True))
    for p in extra:
        node.declare_parameter(p.name, p.default, ParameterDescriptor(name=p.name, description=p.description,
                                                                      dynamic_typing=True))


def _plain(value: Any) -> Any:
    # rclpy returns arrays as array.array or lists; the config loader wants plain lists.
    if value is None:
        return None
    if not isinstance(value, (str, bytes, bool, int, float)) and hasattr(value, "__iter__"):
        return [_plain(v) for v in value]
    return value


def read_config(node: Node) -> Config:
    """The config from the node's current parameter values (raises UserError naming a bad key)."""
    flat = {name: _plain(node.get_parameter(name).value) for name in config_parameters()}
    return config_from_dict(unflatten(flat))


def read_params(node: Node, extra: list[NodeParam]) -> dict[str, Any]:
    return {p.name: _plain(node.get_parameter(p.name).value) for p in extra}
