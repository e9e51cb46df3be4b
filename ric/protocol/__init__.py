"""Protocol code shared by every layer: world description and service-model containers."""

from ric.protocol.sm import Controls, NodeReport, Reports
from ric.protocol.spec import NodeSpec, WorldSpec

__all__ = ["Controls", "NodeReport", "NodeSpec", "Reports", "WorldSpec"]
