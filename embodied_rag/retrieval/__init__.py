"""Multi-resolution retrieval over the memory, answers and goal poses."""
