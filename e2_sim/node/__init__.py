"""E2 node agents: the world's nodes speaking E2 to a RIC, slot by slot."""
