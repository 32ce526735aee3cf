import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from embodied_rag.memory.pose import InvalidPose, Pose, PoseBuffer, interpolate, yaw_quaternion


def test_checked_rejects_nan_inf_huge_and_zero_quaternion_and_normalises():
    for p, q in [((math.nan, 0, 0), (0, 0, 0, 1)), ((0, math.inf, 0), (0, 0, 0, 1)), ((1e9, 0, 0), (0, 0, 0, 1)),
                 ((0, 0, 0), (0, 0, 0, 0)), ((0, 0, 0), (math.nan, 0, 0, 1))]:
        with pytest.raises(InvalidPose):
            Pose.checked(p, q)
    pose = Pose.checked((1, 2, 3), (0, 0, 0, 2))
    assert pose.orientation == (0.0, 0.0, 0.0, 1.0)


def test_optical_heading_of_forward_camera():
    # Optical frame of a camera looking along world +y (yaw 90 deg).
    base = Pose((0, 0, 0), yaw_quaternion(math.pi / 2))
    cam = base.compose(Pose((0, 0, 0), (-0.5, 0.5, -0.5, 0.5)))
    assert cam.heading(optical=True) == pytest.approx(math.pi / 2)
    assert np.allclose(cam.view_direction(), [0, 1, 0], atol=1e-9)
    up = Pose((0, 0, 0), (0, 0, 0, 1))  # optical z = world z: looking straight up, no heading
    assert up.heading() is None


def test_buffer_interpolates_within_gap_and_refuses_beyond():
    buf = PoseBuffer(max_gap_s=0.5)
    buf.add(2_000_000_000, Pose((2, 0, 0)))
    buf.add(1_000_000_000, Pose((0, 0, 0)))  # out of order: placed where it belongs
    mid = buf.at(1_500_000_000)
    assert mid.position == pytest.approx((1.0, 0.0, 0.0))
    assert buf.at(2_400_000_000).position == (2, 0, 0)  # nearest within the gap
    assert buf.at(3_000_000_000) is None
    assert buf.at(0) is None


unit_quats = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda v: np.linalg.norm(v) > 0.1)


@settings(max_examples=60, deadline=None)
@given(a=unit_quats, b=unit_quats, t=st.floats(0, 1), pa=st.tuples(*[st.floats(-50, 50)] * 3),
       pb=st.tuples(*[st.floats(-50, 50)] * 3))
def test_interpolation_properties(a, b, t, pa, pb):
    A, B = Pose.checked(pa, a), Pose.checked(pb, b)
    m = interpolate(A, B, t)
    # Position on the segment, unit quaternion, endpoints reproduced, rotation angle split in proportion.
    assert np.allclose(m.position, (1 - t) * np.array(pa) + t * np.array(pb), atol=1e-6)
    assert np.linalg.norm(m.orientation) == pytest.approx(1.0)
    total = (A.rotation.inv() * B.rotation).magnitude()
    assert (A.rotation.inv() * m.rotation).magnitude() == pytest.approx(t * total, abs=1e-6)
    assert np.allclose(Rotation.from_quat(interpolate(A, B, 0.0).orientation).as_matrix(), A.rotation.as_matrix())
