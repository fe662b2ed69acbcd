"""Service address allocation: ClusterIPs and NodePorts, as upstream's registry hands them out.

``ranges`` (which values a range holds, and how a free one is chosen),
``allocator`` (one range's allocations, kept in the store under one key and
changed only by compare-and-swap), ``services`` (what a Service create,
update or delete allocates and releases), ``repair`` (the loop that keeps
the stored allocations equal to what the stored Services use).
"""
