"""The ``smartcity`` command: ``main`` in main.py, one module per command."""
