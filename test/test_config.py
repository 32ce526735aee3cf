from pathlib import Path

import pytest

from embodied_rag.config import Config, config_from_dict, flatten, load_config, unflatten
from embodied_rag.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def test_default_yaml_documents_every_key_with_its_default():
    loaded = load_config(REPO / "config" / "default.yaml")
    assert loaded == Config()
    import yaml

    raw = yaml.safe_load((REPO / "config" / "default.yaml").read_text())["/**"]["ros__parameters"]
    assert set(flatten(raw)) == set(flatten(Config().to_dict()))


def test_partial_override_keeps_defaults():
    c = config_from_dict({"forest": {"max_levels": 3}})
    assert c.forest.max_levels == 3
    assert c.forest.spatial_weight == 0.4


def test_unknown_key_and_bad_type_are_one_sentence_errors(tmp_path):
    with pytest.raises(UserError, match="Unknown config key 'forest.max_level'"):
        config_from_dict({"forest": {"max_level": 3}})
    with pytest.raises(UserError, match="must be true or false"):
        config_from_dict({"keyframes": {"novelty": "yes"}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("forest: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(UserError, match="Cannot read config file"):
        load_config(tmp_path / "missing.yaml")


def test_flatten_round_trip():
    d = Config().to_dict()
    assert unflatten(flatten(d)) == d
