"""The scheduling framework: node infos, snapshots, statuses, plugin protocols
per extension point, the registry of plugin factories and the profile runner."""
