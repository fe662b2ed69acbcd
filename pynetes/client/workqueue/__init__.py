"""Work queues, as client-go's workqueue package: what controllers take keys from.

:class:`Queue` deduplicates keys and never hands one key to two workers at
once; :class:`DelayingQueue` adds keys after a delay; :class:`RateLimitingQueue`
delays retries with a :class:`RateLimiter` (per-key exponential backoff and
an overall token bucket by default). :class:`WorkqueueMetrics` exposes them
under upstream's ``workqueue_*`` metric names.
"""

from pynetes.client.workqueue.delaying import CallLater, DelayingQueue, TimerHandle
from pynetes.client.workqueue.metrics import QueueMetrics, WorkqueueMetrics
from pynetes.client.workqueue.queue import Queue
from pynetes.client.workqueue.rate_limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from pynetes.client.workqueue.rate_limiting import RateLimitingQueue

__all__ = [
    "BucketRateLimiter",
    "CallLater",
    "DelayingQueue",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "Queue",
    "QueueMetrics",
    "RateLimiter",
    "RateLimitingQueue",
    "TimerHandle",
    "WorkqueueMetrics",
    "default_controller_rate_limiter",
]
