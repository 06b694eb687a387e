"""Shipped run configurations (``--preset NAME``): each ``NAME.toml`` here is a config file as
``--config`` reads it, its first comment the line ``simulate.py presets`` shows."""
