"""Goal poses for Nav2: in front of the object asked for, facing it; or, with no object, at the evidence keyframe
facing what the camera saw there."""

from __future__ import annotations

import math

from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.objects import ObjectInstance
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


def goal_at_object(memory: Memory, inst: ObjectInstance) -> Goal:
    """A pose ``goal_standoff_m`` in front of the object, on the side it was seen from, facing it, at the height of
    the robot base on its floor, in free space as far as depth showed.

    The preferred place is on the line from the camera that saw the object closest to the object: depth showed
    that line free at the camera's height. Where the free-space grid says that place is not clear (a low table
    under the line of sight, a wall), places around the object at growing distance and angle from it are tried;
    failing all, the camera's own place (the robot stood there). Objects placed at their viewpoint (no depth) get
    that viewpoint, facing where the object was seen.
    """
    views = memory.views_of(inst)
    o = inst.position
    if not views:
        return Goal(memory.config.frame_id, (float(o[0]), float(o[1]), float(o[2])), yaw_quaternion(0.0))
    view = memory.keyframes[views[0]]
    cx, cy = view.xy
    base_z = memory.base_pose(view.pose).position[2]
    d = math.hypot(o[0] - cx, o[1] - cy)
    standoff = memory.config.retrieval.goal_standoff_m
    if d <= standoff:
        yaw = math.atan2(o[1] - cy, o[0] - cx) if d > 1e-6 else (view.pose.heading(optical=True) or 0.0)
        return Goal(memory.config.frame_id, (cx, cy, base_z), yaw_quaternion(yaw))
    towards = math.atan2(cy - o[1], cx - o[0])  # from the object back to the camera
    free = memory.free_space
    spot = None
    if free:
        for extra in (0.0, 0.25, 0.5, 0.75):
            r = min(standoff + extra, d)
            for turn in (0, 20, -20, 40, -40, 60, -60, 90, -90):
                a = towards + math.radians(turn)
                x, y = o[0] + r * math.cos(a), o[1] + r * math.sin(a)
                if free.clear(x, y, base_z):
                    spot = (x, y)
                    break
            if spot:
                break
    else:
        spot = (o[0] + standoff * math.cos(towards), o[1] + standoff * math.sin(towards))
    gx, gy = spot or (cx, cy)
    yaw = math.atan2(o[1] - gy, o[0] - gx)
    return Goal(memory.config.frame_id, (gx, gy, base_z), yaw_quaternion(yaw))
