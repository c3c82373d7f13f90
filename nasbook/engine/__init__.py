"""The one training loop and what surrounds it (docs/architecture.md)."""
from .trainer import EngineConfig, NonFiniteLoss, StepContext, StopTraining, Task, Trainer, select_device  # noqa: F401
from .seed import seed_everything  # noqa: F401
