"""Policy-as-code authorization for API keys. See ``Engine``."""

from policyengine.decision import Code, Decision
from policyengine.engine import Engine
from policyengine.errors import PolicyEngineError, PolicyError
from policyengine.request import Request

__all__ = ["Code", "Decision", "Engine", "PolicyEngineError", "PolicyError", "Request"]
