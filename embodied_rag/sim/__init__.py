"""A small, honest simulator: a procedural building, CPU ray-cast rendering, a robot tour recorded as rosbag2,
with ground truth and generated queries. Used by ``embodied-rag demo`` and ``embodied-rag bench``."""

from embodied_rag.sim.building import Building, Obj, Room, generate_building
from embodied_rag.sim.queries import make_queries
from embodied_rag.sim.record import ingest_config, record
from embodied_rag.sim.render import Renderer
from embodied_rag.sim.tour import BODY_TO_CAMERA, Tour, robot_tour

__all__ = ["BODY_TO_CAMERA", "Building", "Obj", "Renderer", "Room", "Tour", "generate_building", "ingest_config",
           "make_queries", "record", "robot_tour"]
