"""The example world: building generation, CPU rendering, the robot tour, queries and the recorded bag."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from embodied_rag.errors import UserError
from embodied_rag.io.rosbag import RosbagRecording
from embodied_rag.memory.pose import Pose
from embodied_rag.retrieval.evaluate import load_queries
from embodied_rag.sim.building import Building, Obj, Part, Room, generate_building
from embodied_rag.sim.queries import make_queries
from embodied_rag.sim.record import ingest_config, record
from embodied_rag.sim.render import Renderer
from embodied_rag.sim.tour import BODY_TO_CAMERA, robot_tour

LOOK_ALONG_X = (-0.5, 0.5, -0.5, 0.5)


def _hash(frames) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(f.image.tobytes())
        h.update(f.depth.tobytes())
        h.update(f.caption.encode())
    return h.hexdigest()


def test_building_is_deterministic_and_consistent():
    a, b = generate_building(3, 2, 9), generate_building(3, 2, 9)
    assert a.ground_truth() == b.ground_truth() and a.parts == b.parts
    assert generate_building(4, 2, 9).ground_truth() != a.ground_truth()
    assert sum(r.type not in ("corridor",) for r in a.rooms) == 2 * 9
    for o in a.objects:  # every object stands inside the room it is recorded in, on that room's storey
        room = a.rooms[o.room]
        x0, y0, x1, y1 = room.extent
        assert x0 <= o.position[0] <= x1 and y0 <= o.position[1] <= y1, (o, room)
        assert room.z <= o.position[2] <= room.z + 2.7
    for r in a.rooms:
        assert r.doors, f"{r.name} has no door"
    assert {"kitchen", "bathroom", "office", "lobby"} <= {r.type for r in a.rooms}


def _box_world() -> Building:
    """A floor at z=0, a wall whose face is at x=5, and a red box (an object) standing at x=3."""
    rooms = [Room(0, "lab", "lab 1", 0, (-1.0, -5.0, 6.0, 5.0), 0.0)]
    objects = [Obj(0, "fridge", "red", 0, (3.25, 0.0, 0.25), (0.5, 0.5, 0.5))]
    parts = [Part("box", (-1.0, -5.0, -0.1, 6.0, 5.0, 0.0), (128, 128, 128), -1, 0, "floor"),
             Part("box", (5.0, -5.0, 0.0, 5.2, 5.0, 3.0), (200, 200, 200), -1, 0, "wall"),
             Part("box", (3.0, -0.25, 0.0, 3.5, 0.25, 0.5), (200, 40, 35), 0, 0, "object")]
    return Building(0, 1, rooms, objects, [], parts, (0.0, 0.0), [0])


def test_depth_matches_geometry():
    r = Renderer(_box_world(), 160, 120, fov_deg=90.0)
    out = r.render(Pose((0.0, 0.0, 1.5), LOOK_ALONG_X))
    k = r.intrinsics
    # The wall is perpendicular to the optical axis: every wall pixel is 5 m deep (depth is along the axis).
    assert out.depth[50, 10] == pytest.approx(5.0, abs=1e-4)
    assert out.depth[60, 80] == pytest.approx(5.0, abs=1e-4)
    # A floor pixel row v sees the floor at depth h * fy / (v + 0.5 - cy) for a level camera at height h.
    v = 110
    assert out.depth[v, 5] == pytest.approx(1.5 * k.fy / (v + 0.5 - k.cy), rel=1e-4)
    # The box's front face (x=3) covers the pixels below the centre; its id is the object's.
    v_box = int(k.cy + (1.5 - 0.25) * k.fy / 3.0)
    assert out.depth[v_box, 80] == pytest.approx(3.0, abs=1e-4)
    assert out.object_ids[v_box, 80] == 0 and out.object_ids[10, 80] == -1
    assert list(out.visible) == [0]
    # Shaded, not flat: the floor gets darker with distance, the box is red.
    assert out.rgb[v_box, 80, 0] > 2 * out.rgb[v_box, 80, 2]
    assert len(np.unique(out.rgb.reshape(-1, 3), axis=0)) > 20
    # Looking away from the box: nothing visible; the coarse path agrees with the full render.
    back = Pose((0.0, 0.0, 1.5), (0.5, 0.5, -0.5, -0.5))  # yaw 180 deg
    assert r.render(back).visible == {}
    assert [set(v) for v in r.visible_objects([Pose((0.0, 0.0, 1.5), LOOK_ALONG_X), back])] == [{0}, set()]


def test_tour_renders_deterministically_and_visits_every_room():
    b = generate_building(1, 1, 5)
    t1 = robot_tour(b, width=96, height=72)
    frames = list(t1)
    assert _hash(frames) == _hash(list(robot_tour(generate_building(1, 1, 5), width=96, height=72)))
    assert {bp.room for bp in t1.base_poses} >= {r.id for r in b.rooms}
    assert frames[0].image.shape == (72, 96, 3) and frames[0].depth.dtype == np.float32
    for a, c in zip(t1.base_poses, t1.base_poses[1:]):  # walking speed and ~2 fps, no jumps on one floor
        assert (c.stamp_ns - a.stamp_ns) == pytest.approx(0.5e9, abs=1e3)
        assert math.dist((a.x, a.y), (c.x, c.y)) <= 0.5 * 1.0 + 1e-6
    assert any(f.objects for f in frames) and all(f.caption for f in frames)
    # Camera poses are the base poses through the mount; the camera stays level at the mount height.
    for bp, f in zip(t1.base_poses, frames):
        assert f.pose.position[2] == pytest.approx(1.2)
        assert np.allclose(bp.pose().compose(BODY_TO_CAMERA).position, f.pose.position)


def test_tour_without_rendering_rides_the_elevator():
    b = generate_building(2, 2, 6)
    tour = robot_tour(b, render=False)
    frames = list(tour)
    # No colour, but a coarse depth image and detections for the object layer.
    assert all(f.image is None and f.depth is not None and f.depth.shape == (48, 64) for f in frames)
    assert all(f.camera is not None and f.camera.width == 64 for f in frames)
    assert {round(bp.z, 3) for bp in tour.base_poses} == {0.0, 3.2}
    assert {bp.room for bp in tour.base_poses} >= {r.id for r in b.rooms}
    seen_labels = {b.objects[i].cls for i in tour.seen}
    assert {"elevator", "fridge", "toilet"} <= seen_labels
    for f, vis in zip(frames, tour.visible):
        assert sorted(f.objects) == sorted({b.objects[i].cls for i in vis})


def test_queries_are_answerable_from_the_tour():
    b = generate_building(0, 1, 9)
    tour = robot_tour(b, render=False)
    list(tour)
    queries = make_queries(b, tour.seen)
    assert queries == make_queries(b, tour.seen)  # deterministic
    seen_xy = {(round(b.objects[i].position[0], 3), round(b.objects[i].position[1], 3)) for i in tour.seen}
    seen_words = {b.objects[i].cls for i in tour.seen} | {b.rooms[bp.room].type for bp in tour.base_poses}
    cats = {q["category"] for q in queries}
    assert {"object", "colour", "purpose", "area", "room", "floor"} <= cats
    for q in queries:
        assert q["kind"] in ("find", "explain")
        if q["kind"] == "find":
            assert q["target_positions"] and q["radius_m"] > 0
            assert all(tuple(t) in seen_xy for t in q["target_positions"]), q
        else:
            assert q["expect_any"]
            assert any(w in seen_words or any(w in s for s in seen_words) for w in q["expect_any"]), q
    drink = next(q for q in queries if q["query"] == "where can I get a drink?")
    drinkers = {(round(o.position[0], 3), round(o.position[1], 3)) for o in b.objects
                if o.cls in ("vending machine", "fridge", "water fountain", "coffee machine") and o.id in tour.seen}
    assert {tuple(t) for t in drink["target_positions"]} == drinkers
    for q in (q for q in queries if "from" in q):
        cls = q["query"].rsplit(" ", 1)[-1].rstrip("?")
        d = [math.dist(q["from"], o.position[:2]) for o in b.objects if o.id in tour.seen and o.cls.endswith(cls)]
        assert min(math.dist(q["from"], t) for t in q["target_positions"]) == pytest.approx(min(d), abs=1e-2)


def test_recorded_bag_round_trips(tmp_path):
    b = generate_building(5, 1, 3)
    paths = record(b, tmp_path / "rec", fps=1.0, width=80, height=60, progress=False)
    gt = json.loads(paths["ground_truth"].read_text())
    rec = RosbagRecording(paths["bag"], ingest_config())
    assert rec.topics == {"image": "/camera/image_raw/compressed", "depth": "/camera/depth/image_raw",
                          "pose": "/odom", "caption": "/embodied_rag/caption", "camera_info": "/camera/camera_info"}
    frames = list(rec)
    assert len(frames) == gt["tour"]["frames"] == len(gt["frames"]) > 20
    for f, g in zip(frames, gt["frames"]):
        assert f.stamp_ns == g["stamp_ns"]
        assert np.allclose(f.pose.position, g["camera"][:3], atol=1e-4)
        q, qg = np.array(f.pose.orientation), np.array(g["camera"][3:])
        assert min(np.abs(q - qg).max(), np.abs(q + qg).max()) < 1e-4
        assert sorted(f.objects) == sorted({b.objects[i].cls for i in g["objects"]})
        assert f.image.shape == (60, 80, 3) and f.depth.shape == (60, 80)
        # The detector's boxes and the camera model travel with the frame.
        assert sorted({d.label for d in f.detections}) == sorted(f.objects)
        assert all(0 <= d.box[0] < d.box[2] <= 80 and 0 <= d.box[1] < d.box[3] <= 60 for d in f.detections)
        assert f.camera is not None and (f.camera.width, f.camera.height) == (80, 60)
    assert gt["body_to_camera"] == {"translation": [0.1, 0.0, 1.2], "rotation_xyzw": [-0.5, 0.5, -0.5, 0.5]}
    queries = load_queries(paths["queries"])
    assert queries and all(q["dataset"] == b.name for q in queries)
    with pytest.raises(UserError, match="never overwritten"):
        record(b, tmp_path / "rec", progress=False)
