"""Every table's model, imported once so that `metadata` knows the whole schema."""

from app.activities import models as activities_models
from app.activities.hours import models as hours_models
from app.clients import models as clients_models
from app.core import models as core_models
from app.core.db import Base
from app.emergency import models as emergency_models
from app.identity import models as identity_models
from app.integrations import models as integrations_models
from app.ledger import models as ledger_models
from app.ledger import sealing as ledger_sealing
from app.merchants import models as merchants_models
from app.notifications import models as notifications_models
from app.orgs import models as orgs_models
from app.rewards import models as rewards_models
from app.rewards.adjustments import models as adjustments_models
from app.volunteers import models as volunteers_models
from app.webhooks import models as webhooks_models

metadata = Base.metadata

__all__ = [
    "activities_models",
    "adjustments_models",
    "clients_models",
    "core_models",
    "emergency_models",
    "hours_models",
    "identity_models",
    "integrations_models",
    "ledger_models",
    "ledger_sealing",
    "merchants_models",
    "metadata",
    "notifications_models",
    "orgs_models",
    "rewards_models",
    "volunteers_models",
    "webhooks_models",
]
