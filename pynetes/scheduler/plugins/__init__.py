"""The in-tree plugins, one package per plugin, each with its upstream NAME and a factory."""
