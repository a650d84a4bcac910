"""``comfy_execution.jobs`` as tools and packs import it: the same functions that serve ``/api/jobs``."""

from isolate.jobs import (
    PREVIEWABLE_MEDIA_TYPES,
    THREE_D_EXTENSIONS,
    JobStatus,
    apply_sorting,
    get_outputs_summary,
    is_previewable,
    normalize_history_item,
    normalize_queue_item,
)

__all__ = ["PREVIEWABLE_MEDIA_TYPES", "THREE_D_EXTENSIONS", "JobStatus", "apply_sorting", "get_outputs_summary",
           "is_previewable", "normalize_history_item", "normalize_queue_item"]
