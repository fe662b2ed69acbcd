"""What several controllers share: controller references, pod templates, pod states.

Upstream keeps these in pkg/controller's controller_utils.go and
controller_ref_manager.go.
"""
