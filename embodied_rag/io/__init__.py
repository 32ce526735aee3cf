"""Readers of recordings (rosbag2, TUM-style folders) and decoding of images; no ROS runtime needed."""
