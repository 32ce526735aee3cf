"""Model backends behind small Protocols; created once by name from config and passed in."""
