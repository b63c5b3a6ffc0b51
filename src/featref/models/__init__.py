"""Model families and their registry. Importing this package registers every family."""

from __future__ import annotations

from featref.models import (  # noqa: F401  (registration side effect)
    dual_inception,
    featref,
    off_apexnet,
    ststnet,
)
from featref.models._registry import (
    ModelCard,
    create_model,
    get_model_card,
    list_models,
    register_model,
)
from featref.models.featref import FeatRefOutput

__all__ = [
    "FeatRefOutput",
    "ModelCard",
    "create_model",
    "get_model_card",
    "list_models",
    "register_model",
]
