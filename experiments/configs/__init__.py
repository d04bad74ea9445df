"""Experiment configs: one module per paper-table row family, each with ``get_config(arg)``."""
