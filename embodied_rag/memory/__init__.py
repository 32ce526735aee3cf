"""ROS-free memory core: keyframes, topological graph, semantic forest and the persistent store."""
