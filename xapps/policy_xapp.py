"""An xApp that runs any registered policy: the same object `ntnric eval` runs directly."""

from __future__ import annotations

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import make_policy
from xapps.policies.base import Policy
from xapps.sdk import Stamps, XApp


class PolicyXApp(XApp):
    """Decides every ``period_slots`` slots with policy ``policy_name`` over every node.

    Parameters
    ----------
    policy_name : str
        Any name `xapps.policies.make_policy` accepts.
    seed : int
        Seed of the policy's own random stream.
    name : str, optional
        xApp name at the RIC (default: the policy name).
    """

    def __init__(self, policy_name: str, seed: int, name: str | None = None, period_slots: int = 1) -> None:
        self.policy_name = policy_name
        self.seed = seed
        self.name = name or policy_name
        self.period_slots = period_slots
        self.policy: Policy | None = None

    def on_start(self, spec: WorldSpec) -> None:
        self.policy = make_policy(self.policy_name, spec, seed=self.seed)
        self.policy.reset(1)

    def on_reports(self, reports: Reports, stamps: Stamps) -> Controls | None:
        assert self.policy is not None
        return self.policy.decide(reports)
