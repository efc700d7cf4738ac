"""The demo `make run` loads: 吴江区 with its organisation, people, 文明商户 and a story
lived through on the real services (see `app.demo.seed`)."""

from app.demo.organisation import seed_organisation
from app.demo.seed import LOGINS, DemoIncomplete, seed_demo

__all__ = ["LOGINS", "DemoIncomplete", "seed_demo", "seed_organisation"]
