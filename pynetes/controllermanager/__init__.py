"""kube-controller-manager: one program running many control loops.

Each controller lives in its own module under
:mod:`pynetes.controllermanager.controllers` and describes itself with a
:class:`~pynetes.controllermanager.descriptor.ControllerDescriptor`; the
registry finds them, ``--controllers`` picks them (upstream's ``*``,
``name`` and ``-name`` syntax), and the :class:`ControllerManager` builds
them over one shared informer factory and runs them.
"""

from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor, Runnable
from pynetes.controllermanager.manager import ControllerManager

__all__ = ["ControllerContext", "ControllerDescriptor", "ControllerManager", "Runnable"]
