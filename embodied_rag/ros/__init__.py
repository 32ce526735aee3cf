"""ROS 2 nodes around the core: ``memory_node``, ``query_node``, both in one process (``embodied_rag_node``),
message conversions, RViz markers and a rosbag2 player. Nothing here holds an algorithm; importing this package
does not import rclpy (the modules below do)."""
