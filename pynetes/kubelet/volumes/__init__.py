"""The kubelet's volumes: emptyDir, configMap, secret, hostPath, downwardAPI, projected.

:class:`~pynetes.kubelet.volumes.manager.VolumeManager` is the entry point.
"""
