"""Nova's databases: the API database and one database per cell (cell0 keeps failures)."""
