"""The map of a memory (viz): a small simulated two-floor building, drawn as PNG and HTML with one panel per floor,
the object instances labelled, the free space under the keyframes and the simulator's rooms as the outline."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import numpy as np
import pytest
from matplotlib.image import imread

from embodied_rag.cli import main
from embodied_rag.config import Config
from embodied_rag.errors import UserError
from embodied_rag.memory.memory import Memory
from embodied_rag.retrieval.answer import Answer, Goal
from embodied_rag.sim.building import FLOOR_HEIGHT_M, generate_building
from embodied_rag.sim.detector import SensorFaults
from embodied_rag.sim.evaluation import build_sim_memory
from embodied_rag.sim.record import ingest_config
from embodied_rag.viz import FREE_RGBA, AskedQuery, _floors, load_outline, outline_from_rooms, write_html, write_png

SIM_CONFIG = dataclasses.replace(Config(), ingest=ingest_config())


@pytest.fixture(scope="module")
def sim(tmp_path_factory, minilm):
    """A memory of a rendered tour (80 x 60) of a building of 2 floors with 2 rooms each, closed after building."""
    building = generate_building(seed=0, floors=2, rooms_per_floor=2)
    directory = tmp_path_factory.mktemp("viz") / "memory"
    memory, _tour, _stats = build_sim_memory(directory, building, Config(), minilm, SensorFaults(), width=80,
                                             height=60)
    memory.close()
    return building, directory


def _queries(memory: Memory) -> list[AskedQuery]:
    """One goal per floor, in front of a confirmed object of that floor (as the retriever would put it)."""
    out = []
    for floor in range(len(memory.floors)):
        inst = next(o for o in memory.objects.confirmed() if memory.floors.floor_of(o.level_z) == floor)
        x, y = float(inst.position[0]), float(inst.position[1])
        goal = Goal("map", (x + 0.5, y, floor * FLOOR_HEIGHT_M), (0.0, 0.0, 1.0, 0.0))
        out.append(AskedQuery(f"where is the {inst.name}?", Answer(f"The {inst.name}.", "object", goal)))
    return out


def test_floors_split_keyframes_objects_free_space_and_outline(sim):
    building, directory = sim
    outline = outline_from_rooms(building.rooms)
    with Memory(directory, SIM_CONFIG, writable=False) as memory:
        queries = _queries(memory)
        floors = _floors(memory, queries, outline)
        assert len(floors) == 2 == len(memory.floors)
        assert sum(len(f.keyframes) for f in floors) == len(memory.keyframes)
        assert sum(len(f.objects) for f in floors) == len(memory.objects.confirmed()) > 0
        for f in floors:
            assert f.keyframes and f.objects
            assert abs(f.base_z - f.index * FLOOR_HEIGHT_M) < 0.2  # the robot base stands on the floor
            assert {r.name for r in f.rooms} == {r.name for r in building.rooms if r.floor == f.index}
            assert [i for i, _, _ in f.goals] == [f.index + 1]
            img, (ox, oy) = f.occupancy
            assert (img == 0).sum() > 500 and (img == 1).sum() > 20  # free floor and walls were seen
            # Keyframes stand on free cells: the robot drove there.
            res = memory.free_space.res
            cells = [img[int((kf.pose.position[1] - oy) / res), int((kf.pose.position[0] - ox) / res)]
                     for kf in f.keyframes]
            assert np.mean(np.array(cells) == 0) > 0.9
        # Free space is found from the camera heights when the config's mount is not the robot's.
        with Memory(directory, Config(), writable=False) as plain:
            again = _floors(plain, [], outline)
        for a, b in zip(floors, again):
            assert np.array_equal(a.occupancy[0], b.occupancy[0]) and a.occupancy[1] == b.occupancy[1]
            assert abs(b.base_z - a.base_z) < 0.2 and len(b.rooms) == len(a.rooms)


def test_png_and_html_show_objects_per_floor(sim, tmp_path):
    building, directory = sim
    outline = outline_from_rooms(building.rooms)
    with Memory(directory, SIM_CONFIG, writable=False) as memory:
        queries = _queries(memory)
        names = {o.name for o in memory.objects.confirmed()}
        png = write_png(memory, tmp_path / "map.png", queries, "sim", outline)
        page = write_html(memory, tmp_path / "map.html", queries, "sim", outline).read_text()
    assert png.stat().st_size > 30_000
    rgb = imread(png)[..., :3]
    assert rgb.shape[1] > 1000 and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 50
    assert (np.abs(rgb - np.array(FREE_RGBA[:3])).max(axis=2) < 0.01).mean() > 0.02  # the free space is drawn
    # One section (and SVG) per floor; every confirmed object named in the drawing and in its floor's table.
    assert page.count("<svg") == 2 and 'id="floor-0"' in page and 'id="floor-1"' in page
    svg_text = " ".join(re.findall(r"<svg.*?</svg>", page, re.S))
    for name in names:
        assert html.escape(name) in svg_text and f"<td>{html.escape(name)}</td>" in page
    for room in building.rooms:
        assert room.name in svg_text  # the outline's rooms
    assert "Q1" in page and "Q2" in page and "Areas of the semantic forest" in page


def test_single_floor_and_empty_memory(sim, tmp_path):
    building, directory = sim
    # Only the ground floor's outline, and a memory with nothing in it, still draw.
    outline = [r for r in outline_from_rooms(building.rooms) if r.z == 0.0]
    with Memory(directory, SIM_CONFIG, writable=False) as memory:
        floors = _floors(memory, [], outline)
        assert [len(f.rooms) > 0 for f in floors] == [True, False]
    with Memory(tmp_path / "empty", Config()) as empty:
        assert write_png(empty, tmp_path / "empty.png").stat().st_size > 1000
        assert "empty memory" in write_html(empty, tmp_path / "empty.html").read_text()


def test_viz_cli_outline(sim, tmp_path, capsys):
    building, directory = sim
    gt = tmp_path / "ground_truth.json"
    gt.write_text(json.dumps(building.ground_truth()))
    assert len(load_outline(gt)) == len(building.rooms)
    out = tmp_path / "map.html"
    assert main(["viz", str(directory), "--out", str(out), "--outline", str(gt)]) == 0
    assert "lobby 1" in out.read_text() and "lobby 2" in out.read_text()
    assert main(["viz", str(directory), "--out", str(tmp_path / "map.png")]) == 0
    assert (tmp_path / "map.png").stat().st_size > 30_000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rooms": [{"extent": [0, 1]}]}))
    with pytest.raises(UserError, match="extent"):
        load_outline(bad)
