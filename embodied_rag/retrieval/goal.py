"""Goal poses for Nav2: at the evidence keyframe, facing what the camera saw there."""

from __future__ import annotations

import math

from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import yaw_quaternion
from embodied_rag.retrieval.answer import Goal


def goal_for(memory: Memory, kf: Keyframe) -> Goal:
    """Position of the keyframe (moved toward what was seen when depth gave its distance); yaw of its camera
    heading (stored poses are optical camera frames).

    Where the heading is unknown (a camera looking straight up or down, or places with no orientation such as
    panorama nodes) the goal faces along the direction of travel into that keyframe.
    """
    yaw = kf.pose.heading(optical=True)
    position = kf.pose.position
    if yaw is None:
        yaw = _travel_heading(memory, kf)
    elif kf.view_distance is not None:
        # With depth, approach what the camera centred on: stop a stand-off short of it, never beyond max advance.
        c = memory.config.retrieval
        step = min(max(kf.view_distance - c.goal_standoff_m, 0.0), c.goal_max_advance_m)
        position = (position[0] + step * math.cos(yaw), position[1] + step * math.sin(yaw), position[2])
    return Goal(memory.config.frame_id, position, yaw_quaternion(yaw))


def _travel_heading(memory: Memory, kf: Keyframe) -> float:
    g = memory.graph.g
    if kf.id not in g:
        return 0.0
    x, y = kf.pose.position[:2]
    for other in sorted(g.neighbors(kf.id)):
        ox, oy = g.nodes[other]["pos"][:2]
        if (ox - x) ** 2 + (oy - y) ** 2 > 1e-6:
            # Face away from the neighbour we came from (lower id = earlier), towards it otherwise.
            sign = -1.0 if other < kf.id else 1.0
            return math.atan2(sign * (oy - y), sign * (ox - x))
    return 0.0
